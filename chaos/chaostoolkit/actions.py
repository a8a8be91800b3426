"""Chaos Toolkit actions: faults with a TTL on the mesh, or on any proxy of links.

Each returns what it did as plain JSON, which Chaos Toolkit writes to its journal.
"""

from __future__ import annotations

from typing import Any

from chaos.chaostoolkit._target import Configuration, with_context
from chaos.experiment.model import FaultStep
from chaos.faults import FAULTS, FaultContext, FaultSpecError
from chaos.mesh.links import STREAMS

__all__ = [
    "add_fault",
    "change_dns_record",
    "inject_fault",
    "link_down",
    "remove_fault",
    "reset",
    "skew_clock",
]


def add_fault(
    link: str,
    toxic: str,
    attributes: dict[str, Any] | None = None,
    stream: str = "downstream",
    toxicity: float = 1.0,
    ttl_s: float = 60.0,
    configuration: Configuration = None,
    secrets: Any = None,
) -> dict[str, Any]:
    """A toxic (``latency``, ``bandwidth``, ``loss``...) on ``link`` for ``ttl_s`` seconds;
    the record ``remove_fault`` takes back."""
    if stream not in STREAMS:
        raise ValueError(f"stream {stream!r}: use upstream or downstream")
    if not ttl_s > 0:
        raise ValueError("ttl_s must be more than 0: a fault nobody ends is not added")

    async def add(ctx: FaultContext) -> dict[str, Any]:
        added = await ctx.links.add_toxic(
            link, toxic, attributes=dict(attributes or {}), stream=stream,
            toxicity=toxicity, ttl=ttl_s,
        )  # fmt: skip
        return {**added.record(), "type": toxic, "ttl_s": ttl_s}

    return with_context(configuration, add)


def remove_fault(
    link: str, name: str, configuration: Configuration = None, secrets: Any = None
) -> dict[str, Any]:
    """Remove a toxic by name; gone already (its TTL ran out) is fine."""

    async def remove(ctx: FaultContext) -> dict[str, Any]:
        await ctx.links.remove_toxic(link, name, missing_ok=True)
        return {"link": link, "removed": name}

    return with_context(configuration, remove)


def reset(configuration: Configuration = None, secrets: Any = None) -> dict[str, Any]:
    """Every toxic removed, every link up on its planned address (a rollback)."""

    async def run(ctx: FaultContext) -> dict[str, Any]:
        moved = await ctx.links.reset()
        return {"reset": sorted(ctx.state.links), "moved_back": moved}

    return with_context(configuration, run)


def inject_fault(
    kind: str,
    target: str,
    duration_s: float = 30.0,
    attributes: dict[str, Any] | None = None,
    configuration: Configuration = None,
    secrets: Any = None,
) -> dict[str, Any]:
    """Any of the project's fault kinds (``fallacies fault`` and the experiments use the
    same), checked as an experiment file's would be, ending by itself after ``duration_s``."""
    if kind not in FAULTS:
        raise ValueError(f"unknown fault {kind!r}; known: {', '.join(sorted(FAULTS))}")
    if not duration_s > 0:
        raise ValueError("duration_s must be more than 0")
    step = FaultStep(
        kind=kind, target=target, at_s=0.0, duration_s=duration_s, attributes=attributes or {}
    )
    try:
        FAULTS[kind].validate(step)
    except FaultSpecError as exc:
        raise ValueError(f"{kind} on {target}: {exc}") from None

    async def apply(ctx: FaultContext) -> dict[str, Any]:
        info = await FAULTS[kind].apply(ctx, step, duration_s)
        return {"kind": kind, "target": target, "ttl_s": duration_s, "applied": info}

    return with_context(configuration, apply)


def link_down(
    link: str, duration_s: float = 30.0, configuration: Configuration = None, secrets: Any = None
) -> dict[str, Any]:
    """Cut ``link`` both ways for ``duration_s`` seconds."""
    return inject_fault("link_down", link, duration_s, configuration=configuration)


def skew_clock(
    node: str,
    offset_s: float,
    duration_s: float = 60.0,
    configuration: Configuration = None,
    secrets: Any = None,
) -> dict[str, Any]:
    """An NTP server of the mesh serves a time ``offset_s`` seconds off, then the truth again."""
    return inject_fault(
        "clock_skew", node, duration_s, {"offset_s": offset_s}, configuration=configuration
    )


def change_dns_record(
    name: str,
    values: list[Any],
    type: str = "A",
    duration_s: float = 60.0,
    configuration: Configuration = None,
    secrets: Any = None,
) -> dict[str, Any]:
    """The mesh's zone says ``values`` for ``name`` for a while, then what it said before."""
    return inject_fault(
        "dns_record", name, duration_s, {"type": type, "values": values},
        configuration=configuration,
    )  # fmt: skip
