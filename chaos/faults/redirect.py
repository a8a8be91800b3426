"""``redirect``: an API link's upstream switched to another node (default the rogue replica).

The network-is-secure fallacy by a man in the middle: clients still dial the same
link, but their requests now reach a replica that signs its answers with a key of
its own; only a client that verifies signatures notices. ``to: api-2`` instead is a
silent topology change. Existing connections are dropped by the switch; the revert
restores the upstream the plan gave the link.
"""

from __future__ import annotations

from typing import Any

from chaos.experiment.model import FaultStep
from chaos.faults import register
from chaos.faults._common import (
    API_LINKS,
    Attr,
    FaultError,
    check_attributes,
    node_info,
    require_target,
)
from chaos.faults.base import Fault, FaultContext

HTTP_NODES = ("rogue", "api-1", "api-2")
"""Nodes that answer the API's HTTP on a ``listen["http"]`` address."""


@register
class Redirect(Fault):
    kind = "redirect"
    target_kind = "link"
    description = "api link's upstream switched to another replica (the rogue one by default)"

    def validate(self, step: FaultStep) -> None:
        require_target(step, API_LINKS, "api link")
        check_attributes(step, {"to": Attr(str, choices=HTTP_NODES)})

    async def apply(self, ctx: FaultContext, step: FaultStep, ttl_s: float) -> dict[str, Any]:
        to = str(step.attributes.get("to", "rogue"))
        try:
            upstream = node_info(ctx.state, to).listen["http"]
        except KeyError:
            raise FaultError(f"node {to!r} has no http listener to redirect to") from None
        janitor = await ctx.links.change(
            step.target,
            ttl=ttl_s,
            upstream=upstream,
            description=f"point {step.target} back at its replica",
        )
        return {"link": step.target, "to": to, "upstream": upstream, "janitor": janitor}

    async def revert(self, ctx: FaultContext, step: FaultStep, applied: dict[str, Any]) -> None:
        await ctx.links.restore(str(applied["link"]), upstream=True, janitor=applied.get("janitor"))
