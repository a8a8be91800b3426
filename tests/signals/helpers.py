"""Synthetic snapshots: by hand for the window helpers, from real registries for signals."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, generate_latest

from chaos.signals.base import SeriesKey, Snapshot
from chaos.signals.sampler import parse_exposition
from chaos.signals.window import SeriesMap


def key(name: str, node: str = "workload", **labels: str) -> SeriesKey:
    return (name, tuple(sorted({**labels, "node": node}.items())))


def snap(t: float, values: Mapping[SeriesKey, float], *, indexed: bool = False) -> Snapshot:
    """A snapshot from ``{key(...): value}``; ``indexed`` wraps it the way the sampler does."""
    plain = dict(values)
    return Snapshot(t=t, values=SeriesMap(plain) if indexed else plain)


def scrape(t: float, registries: Mapping[str, CollectorRegistry]) -> Snapshot:
    """What the sampler would build from these registries' expositions at ``t``."""
    values: dict[SeriesKey, float] = {}
    for node, registry in registries.items():
        values.update(parse_exposition(generate_latest(registry).decode(), node))
    return Snapshot(t=t, values=SeriesMap(values, nodes=registries))
