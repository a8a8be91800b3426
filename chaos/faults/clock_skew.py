"""``clock_skew``: an NTP server told to lie (another administrator, fallacy 6).

Attributes (at least one): ``offset_s`` seconds added to the served time,
``drift_ppm`` (the lie grows by that many µs per second), ``stratum`` 1..15 (a
falseticker may claim to be a better source), ``leap`` 0..3. Applied with the NTP
admin API's ``PATCH /clock``; the janitor's ``POST /clock/reset`` makes the server
tell the truth again at the TTL, and so does the revert. A reset rather than the
previous claims: every server of the mesh starts truthful, and a reset cannot
resurrect a lie some other fault left behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaos.experiment.model import FaultStep
from chaos.faults import register
from chaos.faults._common import (
    NTP_NODES,
    Attr,
    admin_url,
    check_attributes,
    http,
    require_target,
    units_of,
)
from chaos.faults.base import Fault, FaultContext, FaultSpecError
from services.ntp.clock import MAX_DRIFT_PPM, MAX_OFFSET_SECONDS
from services.ntp.packet import LEAP_ALARM, STRATUM_MAX

SCHEMA: Mapping[str, Attr] = {
    "offset_s": Attr(float, low=-MAX_OFFSET_SECONDS, high=MAX_OFFSET_SECONDS, unit="s"),
    "drift_ppm": Attr(float, low=-MAX_DRIFT_PPM, high=MAX_DRIFT_PPM, unit="ppm"),
    "stratum": Attr(int, low=1, high=STRATUM_MAX),
    "leap": Attr(int, low=0, high=LEAP_ALARM),
}
WIRE = {"offset_s": "offset", "drift_ppm": "drift_ppm", "stratum": "stratum", "leap": "leap"}
"""Fault attribute -> NTP admin field (the fault names its unit)."""


@register
class ClockSkew(Fault):
    kind = "clock_skew"
    target_kind = "node"
    description = "an NTP server serves a wrong time (offset, drift, stratum); reset at the TTL"

    def units(self, step: FaultStep) -> Mapping[str, str]:
        return units_of(SCHEMA)

    def validate(self, step: FaultStep) -> None:
        require_target(step, NTP_NODES, "NTP server")
        check_attributes(step, SCHEMA)
        if not step.attributes:
            raise FaultSpecError("attributes", f"give at least one of {', '.join(SCHEMA)}")

    async def apply(self, ctx: FaultContext, step: FaultStep, ttl_s: float) -> dict[str, Any]:
        clock = f"{admin_url(ctx.state, step.target)}/clock"
        previous = await http(ctx, "GET", clock)
        lies = {WIRE[key]: value for key, value in step.attributes.items()}
        applied: dict[str, Any] = {"node": step.target, "previous": previous, "janitor": None}
        # Revert first, lie second: a runner killed in between leaves nothing undone.
        applied["janitor"] = await ctx.file_revert(
            due_in_s=ttl_s,
            method="POST",
            url=f"{clock}/reset",
            description=f"reset the clock of {step.target}",
        )
        try:
            await http(ctx, "PATCH", clock, body=lies)
        except BaseException:
            await ctx.cancel_revert(applied["janitor"])
            raise
        return applied

    async def revert(self, ctx: FaultContext, step: FaultStep, applied: dict[str, Any]) -> None:
        node = str(applied.get("node", step.target))
        await http(ctx, "POST", f"{admin_url(ctx.state, node)}/clock/reset")
        await ctx.cancel_revert(applied.get("janitor"))
