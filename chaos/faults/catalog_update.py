"""``catalog_update``: someone keeps publishing new versions of the catalog (fallacy 3).

Caches only save bandwidth while the data stands still: every ``every_s`` seconds
both replicas rebuild the catalog under a new version, so every ETag changes and a
client's next conditional request costs the whole representation again — the whole
catalog for a client that fetches it whole, one page for a client that paginates.

Target ``api`` (both real replicas). The version in force before is read first and
put back by the revert; a janitor job per replica does the same at the TTL if the
runner dies (which also stops the updates: they are the runner's own loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from chaos.experiment.model import FaultStep
from chaos.faults import register
from chaos.faults._common import (
    Attr,
    FaultError,
    admin_url,
    check_attributes,
    http,
    mesh_replicas,
    require_target,
    units_of,
)
from chaos.faults.base import Fault, FaultContext

log = logging.getLogger(__name__)

TARGET = "api"
DEFAULT_EVERY_S = 3.0
SCHEMA: Mapping[str, Attr] = {"every_s": Attr(float, low=0.5, high=600, unit="s")}


def _url(ctx: FaultContext, replica: str) -> str:
    return f"{admin_url(ctx.state, replica)}/admin/catalog"


async def _publish(ctx: FaultContext, version: int) -> None:
    headers = ctx.state.admin_headers
    for replica in mesh_replicas(ctx.state):
        await http(ctx, "POST", _url(ctx, replica), body={"version": version}, headers=headers)


async def _keep_publishing(ctx: FaultContext, first: int, every_s: float) -> None:
    version = first
    while True:
        try:
            await _publish(ctx, version)
        except FaultError as exc:
            log.warning("catalog update %d failed: %s", version, exc)
        version += 1
        await asyncio.sleep(every_s)


@register
class CatalogUpdate(Fault):
    kind = "catalog_update"
    target_kind = "mesh"
    description = "a new catalog version on both replicas every few seconds: every ETag changes"

    def units(self, step: FaultStep) -> Mapping[str, str]:
        return units_of(SCHEMA)

    def validate(self, step: FaultStep) -> None:
        require_target(step, (TARGET,), "target (catalog updates apply to the api replicas)")
        check_attributes(step, SCHEMA)

    async def apply(self, ctx: FaultContext, step: FaultStep, ttl_s: float) -> dict[str, Any]:
        headers = ctx.state.admin_headers
        if not headers:
            raise FaultError("the mesh state has no admin token (secrets.admin_token)")
        replicas = mesh_replicas(ctx.state)
        served = await http(ctx, "GET", _url(ctx, replicas[0]), headers=headers)
        original = int(served["version"])
        jobs = []
        for replica in replicas:
            jobs.append(
                await ctx.file_revert(
                    due_in_s=ttl_s,
                    method="POST",
                    url=_url(ctx, replica),
                    body={"version": original},
                    headers=headers,
                    description=f"put catalog version {original} back on {replica}",
                )
            )
        every_s = float(step.attributes.get("every_s", DEFAULT_EVERY_S))
        task = asyncio.create_task(_keep_publishing(ctx, original + 1, every_s))
        return {"original": original, "janitor": jobs, "task": task}

    async def revert(self, ctx: FaultContext, step: FaultStep, applied: dict[str, Any]) -> None:
        task = applied.get("task")
        if isinstance(task, asyncio.Task):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await _publish(ctx, int(applied["original"]))
        for job in applied.get("janitor", []):
            await ctx.cancel_revert(job)
