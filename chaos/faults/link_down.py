"""``link_down``: the whole link gone, both directions, as if the cable were cut.

The proxy stops listening and drops every open connection (Toxiproxy's
``enabled: false``); clients see connection refused or a silent UDP path. The
one-direction cut is the ``partition`` toxic. The project's proxy brings the link
back at the TTL itself; for a Toxiproxy link the janitor re-enables it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaos.experiment.model import FaultStep
from chaos.faults import register
from chaos.faults._common import LINKS, check_attributes, require_target
from chaos.faults.base import Fault, FaultContext


@register
class LinkDown(Fault):
    kind = "link_down"
    target_kind = "link"
    any_link = True
    description = "link disabled: connections refused, datagrams lost, both ways"

    def validate(self, step: FaultStep, links: Mapping[str, str] | None = None) -> None:
        require_target(step, LINKS if links is None else links, "link")
        check_attributes(step, {})

    async def apply(self, ctx: FaultContext, step: FaultStep, ttl_s: float) -> dict[str, Any]:
        janitor = await ctx.links.change(
            step.target, ttl=ttl_s, enabled=False, description=f"re-enable {step.target}"
        )
        return {"link": step.target, "janitor": janitor}

    async def revert(self, ctx: FaultContext, step: FaultStep, applied: dict[str, Any]) -> None:
        await ctx.links.restore(str(applied["link"]), enabled=True, janitor=applied.get("janitor"))
