"""``move``: an API replica moves to a new address, and DNS says so (fallacy 5).

The target's link starts listening on a fresh port (the proxy rebinds: the old
port refuses connections from then on), and the ``_api._tcp`` SRV record is
re-pointed at the new port — an address the clients' first answer never listed,
so only a client that asks DNS again finds it. ``alone: true`` leaves the moved
replica as the record's only target (the others were decommissioned).

    before   SRV  api-1:17011  api-2:17012         link api-2 listens on :17012
    after    SRV  api-2:41873                      link api-2 listens on :41873

Both halves are reverted at the TTL even if the runner dies: the record by the
janitor, the link by the project's proxy's own TTL (by the janitor on Toxiproxy).
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
    require_target,
)
from chaos.faults.base import Fault, FaultContext
from chaos.faults.dns_record import get_rrset, put_back, replace_rrset, rrset_url
from chaos.mesh.model import API_SRV
from chaos.proxy.address import join, split


def moved_values(values: list[Any], node: str, port: int, *, alone: bool) -> list[Any]:
    """The SRV values with ``node``'s entry on ``port`` (and only it, if ``alone``)."""
    moved = []
    for value in values:
        if not isinstance(value, dict):
            continue
        if str(value.get("target", "")).split(".")[0] == node:
            moved.append({**value, "port": port})
        elif not alone:
            moved.append(value)
    return moved


@register
class Move(Fault):
    kind = "move"
    target_kind = "link"
    description = "an API replica listens on a new port and the SRV record follows it"

    def validate(self, step: FaultStep) -> None:
        require_target(step, API_LINKS, "API replica")
        check_attributes(step, {"alone": Attr(bool)})

    async def apply(self, ctx: FaultContext, step: FaultStep, ttl_s: float) -> dict[str, Any]:
        link = step.target
        url = rrset_url(ctx, API_SRV, "SRV")
        previous = await get_rrset(ctx, url)
        if previous is None or not moved_values(previous["values"], link, 0, alone=True):
            raise FaultError(f"{API_SRV} SRV does not list {link}: nothing to move")
        before = (await ctx.links.proxy(link)).listen
        host, _ = split(before)
        applied: dict[str, Any] = {"link": link, "listen": before, "url": url}
        applied["previous"] = previous
        applied["link_janitor"] = await ctx.links.change(
            link, ttl=ttl_s, listen=join(host, 0), description=f"move {link} back"
        )
        try:
            _, port = split((await ctx.links.proxy(link)).listen)
            values = moved_values(
                previous["values"], link, port, alone=bool(step.attributes.get("alone"))
            )
            applied["dns_janitor"] = await replace_rrset(
                ctx,
                url,
                previous,
                {"ttl": previous["ttl"], "values": values},
                ttl_s=ttl_s,
                description=f"point {API_SRV} back at {link}'s old address",
            )
        except BaseException:
            await ctx.links.restore(link, listen=before, janitor=applied["link_janitor"])
            raise
        applied["port"] = port
        return applied

    async def revert(self, ctx: FaultContext, step: FaultStep, applied: dict[str, Any]) -> None:
        await put_back(ctx, str(applied["url"]), applied.get("previous"))
        await ctx.links.restore(
            str(applied["link"]), listen=str(applied["listen"]), janitor=applied.get("link_janitor")
        )
        await ctx.cancel_revert(applied.get("dns_janitor"))
