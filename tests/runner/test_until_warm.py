"""The runner waits for each client's first journey before the warm-up starts.

A cold mesh on a loaded machine (three ablation cells on two cores) once took
longer than the 4 s warm-up to finish any journey, and the steady state failed
with nothing wrong but the start.
"""

from __future__ import annotations

import asyncio
from typing import Any

from chaos.runner.engine import until_warm
from chaos.signals.base import Snapshot
from chaos.signals.window import SeriesMap

_NAME = "fallacies_workload_journeys_total"


def _snapshot(naive: float | None, resilient: float | None) -> Snapshot:
    values = {}
    for client, count in (("naive", naive), ("resilient", resilient)):
        if count is not None:
            labels = (("client", client), ("node", "workload"), ("outcome", "ok"))
            values[(_NAME, labels)] = count
    return Snapshot(t=0.0, values=SeriesMap(values, nodes=["workload"]))


class _Scripted:
    """Answers the given snapshots in turn, then the last one for ever."""

    def __init__(self, *snapshots: Snapshot) -> None:
        self.snapshots = list(snapshots)
        self.calls = 0

    async def scrape(self, t: float) -> Snapshot:
        self.calls += 1
        return self.snapshots.pop(0) if len(self.snapshots) > 1 else self.snapshots[0]


def _wait(sampler: Any, timeout_s: float) -> bool:
    return asyncio.run(until_warm(sampler, timeout_s=timeout_s))


def test_waits_until_both_clients_finished_a_journey() -> None:
    sampler = _Scripted(_snapshot(None, None), _snapshot(1, None), _snapshot(1, 2))
    assert _wait(sampler, 30.0) is True
    assert sampler.calls == 3


def test_a_warm_mesh_costs_one_scrape() -> None:
    sampler = _Scripted(_snapshot(40, 41))
    assert _wait(sampler, 30.0) is True
    assert sampler.calls == 1


def test_gives_up_at_the_deadline_so_the_steady_state_judges_it() -> None:
    sampler = _Scripted(_snapshot(3, None))
    assert _wait(sampler, 0.5) is False
    assert sampler.calls >= 2
