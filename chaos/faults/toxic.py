"""Toxic-backed faults: one generic fault, one row per toxic type, the kind named after it.

A row says which protocols the toxic works on and which attributes it takes (wire
names and units of the proxy's README); validation rejects what the proxy would,
before anything runs. Every toxic also takes ``stream`` (``upstream``,
``downstream`` or ``both``, which adds one toxic per direction) and ``toxicity``.
``tests/faults`` keeps the table equal to the proxy's own toxic registry.

    kind          protocols  attributes
    latency       tcp, udp   latency* ms, jitter ms
    bandwidth     tcp, udp   rate* KB/s
    timeout       tcp, udp   timeout ms (0 = hold forever)
    limit_data    tcp, udp   bytes*
    partition     tcp, udp   (one direction: ``stream``; both ways is ``link_down``)
    reset_peer    tcp        timeout ms
    slicer        tcp        average_size* B, size_variation B, delay µs
    slow_close    tcp        delay* ms
    loss          udp        probability 0..1
    duplicate     udp        probability 0..1, copies, delay ms
    truncate      udp        max_size B, drop
    dns_rewrite   udp        name*, address* (IPv4/IPv6)
    http_status   tcp        status, body, retry_after s        (downstream only)
    http_latency  tcp        latency* ms, jitter ms
    http_header   tcp        name*, value, action (set, add, remove)
    http_body     tcp        mode (truncate, corrupt, replace), bytes B, every B, body, fix_length
    http_abort    tcp        bytes B                            (downstream only)
                             + method, path on every http_*     * required

The ``http_*`` toxics act per HTTP/1.1 request, on the requests whose method and
path prefix match; their toxicity is drawn per request.

The target ``api`` is every API link of the running mesh, one toxic (per stream) on
each: "both replicas" of the default mesh, all of them in a larger Swarm stack.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from chaos.experiment.model import FaultStep
from chaos.faults import register
from chaos.faults._common import (
    LINKS,
    Attr,
    check_attributes,
    mesh_replicas,
    units_of,
)
from chaos.faults.base import Fault, FaultContext, FaultSpecError
from chaos.mesh.links import EXTENSION_TOXICS, streams_of
from chaos.mesh.model import LinkProtocol

TCP: tuple[LinkProtocol, ...] = ("tcp",)
UDP: tuple[LinkProtocol, ...] = ("udp",)
BOTH: tuple[LinkProtocol, ...] = ("tcp", "udp")


@dataclass(frozen=True)
class ToxicSpec:
    type: str
    protocols: tuple[LinkProtocol, ...]
    attributes: Mapping[str, Attr]
    description: str
    streams: tuple[str, ...] = ("upstream", "downstream", "both")


def _ms(required: bool = False) -> Attr:
    return Attr(int, required=required, unit="ms")


_PROBABILITY = Attr(float, high=1.0)
_MATCH = {"method": Attr(str), "path": Attr(str)}
"""What every HTTP toxic matches requests on: a method, a path prefix."""

TOXICS: dict[str, ToxicSpec] = {
    spec.type: spec
    for spec in (
        ToxicSpec("latency", BOTH, {"latency": _ms(True), "jitter": _ms()}, "delay ± jitter"),
        ToxicSpec("bandwidth", BOTH, {"rate": Attr(int, True, unit="KB/s")}, "rate cap"),
        ToxicSpec("timeout", BOTH, {"timeout": _ms()}, "data dropped, closed after timeout"),
        ToxicSpec("limit_data", BOTH, {"bytes": Attr(int, True, unit="B")}, "close after N bytes"),
        ToxicSpec("partition", BOTH, {}, "one direction cut"),
        ToxicSpec("reset_peer", TCP, {"timeout": _ms()}, "TCP RST after timeout"),
        ToxicSpec(
            "slicer",
            TCP,
            {
                "average_size": Attr(int, True, unit="B"),
                "size_variation": Attr(int, unit="B"),
                "delay": Attr(int, unit="µs"),
            },
            "data cut into small segments",
        ),
        ToxicSpec("slow_close", TCP, {"delay": _ms(True)}, "FIN delayed"),
        ToxicSpec("loss", UDP, {"probability": _PROBABILITY}, "datagrams dropped"),
        ToxicSpec(
            "duplicate",
            UDP,
            {"probability": _PROBABILITY, "copies": Attr(int), "delay": _ms()},
            "datagrams sent twice",
        ),
        ToxicSpec(
            "truncate",
            UDP,
            {"max_size": Attr(int, unit="B"), "drop": Attr(bool)},
            "oversize datagrams cut or dropped",
        ),
        ToxicSpec(
            "dns_rewrite",
            UDP,
            {"name": Attr(str, True), "address": Attr(str, True)},
            "DNS answers forged",
        ),
        ToxicSpec(
            "http_status",
            TCP,
            {
                **_MATCH,
                "status": Attr(int, low=200, high=599),
                "body": Attr(str),
                "retry_after": Attr(int, unit="s"),
            },
            "requests answered with a status, the upstream never asked",
            streams=("downstream",),
        ),
        ToxicSpec(
            "http_latency",
            TCP,
            {**_MATCH, "latency": _ms(True), "jitter": _ms()},
            "request or response head held",
        ),
        ToxicSpec(
            "http_header",
            TCP,
            {
                **_MATCH,
                "name": Attr(str, True),
                "value": Attr(str),
                "action": Attr(str, choices=("set", "add", "remove")),
            },
            "a header set, added or removed",
        ),
        ToxicSpec(
            "http_body",
            TCP,
            {
                **_MATCH,
                "mode": Attr(str, choices=("truncate", "corrupt", "replace")),
                "bytes": Attr(int, unit="B"),
                "every": Attr(int, low=1, unit="B"),
                "body": Attr(str),
                "fix_length": Attr(bool),
            },
            "body truncated, corrupted or replaced",
        ),
        ToxicSpec(
            "http_abort",
            TCP,
            {**_MATCH, "bytes": Attr(int, unit="B")},
            "connection closed mid-response",
            streams=("downstream",),
        ),
    )
}

EVERY_API_LINK = "api"
"""The target that means each API link of the running mesh (the replicas' own names)."""

ENVELOPE: Mapping[str, Attr] = {
    "stream": Attr(str, choices=("upstream", "downstream", "both")),
    "toxicity": Attr(float, high=1.0),
}
"""Attributes every toxic kind takes besides its own."""


class ToxicFault(Fault):
    """A toxic of ``spec.type`` on the target link, removed by the proxy at its TTL."""

    target_kind = "link"
    any_link = True
    spec: ClassVar[ToxicSpec]

    def units(self, step: FaultStep) -> Mapping[str, str]:
        return units_of(self.spec.attributes)

    def validate(self, step: FaultStep, links: Mapping[str, str] | None = None) -> None:
        group = links is None and step.target == EVERY_API_LINK
        links = LINKS if links is None else links
        protocol = "tcp" if group else links.get(step.target)
        if protocol is None:
            known = ", ".join(links) or "none"
            if links is LINKS:
                known += f", or {EVERY_API_LINK} (every API link)"
            raise FaultSpecError("target", f"unknown link {step.target!r}; links: {known}")
        if protocol not in self.spec.protocols:
            fitting = [name for name, p in links.items() if p in self.spec.protocols]
            raise FaultSpecError(
                "target",
                f"{self.kind} works on {'/'.join(self.spec.protocols).upper()} links only "
                f"({', '.join(fitting)}); {step.target!r} is {protocol.upper()}",
            )
        check_attributes(step, {**self.spec.attributes, **ENVELOPE})
        attributes = step.attributes
        stream = attributes.get("stream", "downstream")
        if stream not in self.spec.streams:
            raise FaultSpecError(
                "attributes.stream",
                f"{self.kind} acts on responses: stream {' or '.join(self.spec.streams)} only",
            )
        if self.kind == "slicer" and "size_variation" in attributes:
            if attributes["size_variation"] >= attributes["average_size"]:
                raise FaultSpecError(
                    "attributes.size_variation", "must be smaller than average_size"
                )
        if self.kind == "dns_rewrite":
            try:
                ipaddress.ip_address(attributes["address"])
            except ValueError:
                raise FaultSpecError(
                    "attributes.address", f"not an IPv4 or IPv6 address: {attributes['address']!r}"
                ) from None

    @staticmethod
    def _targets(ctx: FaultContext, step: FaultStep) -> tuple[str, ...]:
        if step.target == EVERY_API_LINK and step.target not in ctx.state.links:
            return mesh_replicas(ctx.state)
        return (step.target,)

    def unsupported(self, ctx: FaultContext, step: FaultStep) -> str | None:
        for link in self._targets(ctx, step):
            info = ctx.state.links.get(link)
            if info is not None and info.via_toxiproxy and self.kind in EXTENSION_TOXICS:
                return f"{self.kind} needs the project's proxy; {link} is on Toxiproxy here"
        return None

    async def apply(self, ctx: FaultContext, step: FaultStep, ttl_s: float) -> dict[str, Any]:
        attributes = {k: v for k, v in step.attributes.items() if k not in ENVELOPE}
        records: list[dict[str, Any]] = []
        try:
            for link in self._targets(ctx, step):
                toxics = await ctx.links.add_toxics(
                    link,
                    self.spec.type,
                    streams=streams_of(str(step.attributes.get("stream", "downstream"))),
                    attributes=attributes,
                    toxicity=float(step.attributes.get("toxicity", 1.0)),
                    ttl=ttl_s,
                )
                records += [t.record() for t in toxics]
        except BaseException:
            # All links or none, as add_toxics is for one link's streams.
            await ctx.links.remove_toxics(records)
            raise
        return {"link": step.target, "toxics": records}

    async def revert(self, ctx: FaultContext, step: FaultStep, applied: dict[str, Any]) -> None:
        await ctx.links.remove_toxics(applied.get("toxics", []))


def toxic_fault(spec: ToxicSpec) -> type[ToxicFault]:
    """The fault class for one row of the table."""
    return type(
        f"{spec.type.title().replace('_', '')}Fault",
        (ToxicFault,),
        {"kind": spec.type, "spec": spec, "description": f"{spec.type}: {spec.description}"},
    )


for _spec in TOXICS.values():
    register(toxic_fault(_spec))
