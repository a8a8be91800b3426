"""``profile``: a link turned into Ethernet, Wi-Fi or LTE (the network is homogeneous).

Attribute ``name`` picks a profile of :mod:`chaos.faults._profiles`: a latency (with
jitter) and a bandwidth toxic on each direction, from the medium's Shannon capacity
and the share of it an application gets. Two api links on different profiles are
the heterogeneous network a round-robin client ignores.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaos.experiment.model import FaultStep
from chaos.faults import register
from chaos.faults._common import LINKS, Attr, check_attributes, require_target
from chaos.faults._profiles import PROFILES
from chaos.faults.base import Fault, FaultContext
from chaos.mesh.links import STREAMS


@register
class LinkProfile(Fault):
    kind = "profile"
    target_kind = "link"
    any_link = True
    description = "a link shaped like ethernet, wifi or lte: latency ± jitter and a rate cap"

    def validate(self, step: FaultStep, links: Mapping[str, str] | None = None) -> None:
        require_target(step, LINKS if links is None else links, "link")
        check_attributes(step, {"name": Attr(str, required=True, choices=tuple(PROFILES))})

    async def apply(self, ctx: FaultContext, step: FaultStep, ttl_s: float) -> dict[str, Any]:
        profile = PROFILES[str(step.attributes["name"])]
        toxics: list[dict[str, Any]] = []
        plan: list[tuple[str, dict[str, Any]]] = [
            ("latency", {"latency": profile.latency_ms, "jitter": profile.jitter_ms}),
            ("bandwidth", {"rate": profile.rate_kb_s}),
        ]
        try:
            for toxic_type, attributes in plan:
                added = await ctx.links.add_toxics(
                    step.target,
                    toxic_type,
                    streams=STREAMS,
                    attributes=attributes,
                    toxicity=1.0,
                    ttl=ttl_s,
                )
                toxics += [t.record() for t in added]
        except BaseException:
            await ctx.links.remove_toxics(toxics)
            raise
        return {"link": step.target, "profile": profile.name, "toxics": toxics}

    async def revert(self, ctx: FaultContext, step: FaultStep, applied: dict[str, Any]) -> None:
        await ctx.links.remove_toxics(applied.get("toxics", []))
