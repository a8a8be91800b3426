"""``key_rotation``: another administrator rotates the API's request key (fallacy 6).

Target ``api``: both real replicas (api-1, api-2) get the same new key id and
secret, so a client that rediscovers keys works on either; the rogue replica is
not ours to administer. ``grace_s`` (default 0) keeps the old key valid that much
longer. A client with the key hard-coded gets 401s until the revert, which rotates
back to the mesh's original key (``state.secrets`` ``key_id``/``key_secret``) on
both; a janitor job per replica does the same at the TTL.

Rotating back reinstates a key id the replica has seen before: the API accepts a
known kid again when the secret is the same, so the janitor's revert and the
runner's are the same single call.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
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

SCHEMA: Mapping[str, Attr] = {"grace_s": Attr(float, unit="s")}
TARGET = "api"


def _headers(ctx: FaultContext) -> dict[str, str]:
    headers = ctx.state.admin_headers
    if not headers:
        raise FaultError("the mesh state has no admin token (secrets.admin_token)")
    return headers


def _original(ctx: FaultContext) -> dict[str, Any]:
    kid, secret = ctx.state.secrets.get("key_id"), ctx.state.secrets.get("key_secret")
    if not kid or not secret:
        raise FaultError("the mesh state has no original key (secrets.key_id, key_secret)")
    return {"use": "request", "kid": kid, "secret": secret, "grace_s": 0}


async def _rotate(ctx: FaultContext, replica: str, body: dict[str, Any]) -> None:
    url = f"{admin_url(ctx.state, replica)}/admin/keys/rotate"
    await http(ctx, "POST", url, body=body, headers=_headers(ctx))


async def _has_original(ctx: FaultContext, replica: str, original: dict[str, Any]) -> bool:
    url = f"{admin_url(ctx.state, replica)}/admin/keys"
    listing = await http(ctx, "GET", url, headers=_headers(ctx))
    return any(
        key.get("kid") == original["kid"]
        and key.get("secret") == original["secret"]
        and key.get("use") == "request"
        and key.get("status") == "active"
        for key in (listing or {}).get("keys", [])
    )


async def restore_original_key(
    ctx: FaultContext, replicas: Sequence[str] | None = None
) -> dict[str, str]:
    """Make the original request key the active one again; per replica, what it took.

    ``"kept"`` (it still was) or ``"rotated"`` (rotated back).
    """
    original = _original(ctx)
    done: dict[str, str] = {}
    for replica in mesh_replicas(ctx.state) if replicas is None else replicas:
        if await _has_original(ctx, replica, original):
            done[replica] = "kept"
            continue
        await _rotate(ctx, replica, original)
        done[replica] = "rotated"
    return done


@register
class KeyRotation(Fault):
    kind = "key_rotation"
    target_kind = "mesh"
    description = "the API request key rotated on both replicas; rotated back at the TTL"

    def validate(self, step: FaultStep) -> None:
        require_target(step, (TARGET,), "target (key rotation applies to the api replicas)")
        check_attributes(step, SCHEMA)

    def units(self, step: FaultStep) -> Mapping[str, str]:
        return units_of(SCHEMA)

    async def apply(self, ctx: FaultContext, step: FaultStep, ttl_s: float) -> dict[str, Any]:
        new = {
            "use": "request",
            "kid": f"chaos-{secrets.token_hex(4)}",
            "secret": secrets.token_hex(24),
            "grace_s": step.attributes.get("grace_s", 0),
        }
        rotated: list[str] = []
        jobs: list[str] = []
        try:
            for replica in mesh_replicas(ctx.state):
                # The revert is filed before the change: a runner killed in between
                # leaves a harmless rotation to the key already in use, never a
                # rotation nobody will undo.
                url = f"{admin_url(ctx.state, replica)}/admin/keys/rotate"
                jobs.append(
                    await ctx.file_revert(
                        due_in_s=ttl_s,
                        method="POST",
                        url=url,
                        body=_original(ctx),
                        headers=_headers(ctx),
                        description=f"rotate {replica} back to the original key",
                    )
                )
                await _rotate(ctx, replica, new)
                rotated.append(replica)
        except BaseException:
            await restore_original_key(ctx, rotated)
            for job in jobs:
                await ctx.cancel_revert(job)
            raise
        return {"kid": new["kid"], "replicas": rotated, "janitor": jobs}

    async def revert(self, ctx: FaultContext, step: FaultStep, applied: dict[str, Any]) -> None:
        restored = await restore_original_key(ctx, applied.get("replicas"))
        log.info("original key back: %s", restored)
        for job in applied.get("janitor", []):
            await ctx.cancel_revert(job)
