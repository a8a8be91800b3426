"""Evaluate steady-state checks and expectations over a window of snapshots."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from chaos.experiment.model import COMPARE, Check
from chaos.journal import Check as CheckResult
from chaos.signals.base import Signal, Snapshot

CLIENTS = ("naive", "resilient")
RUNNING = "journey_age_seconds"
"""Recorded beside every value: a client with none and a journey running for a while is
stuck, and the charts, the tables and the terminal say so."""


def clients_of(check: Check) -> tuple[str, ...]:
    return CLIENTS if check.client == "both" else (check.client,)


def holds(op: str, value: float | None, threshold: float) -> bool:
    return value is not None and COMPARE[op](value, threshold)


def window(snapshots: Sequence[Snapshot], start: float, end: float) -> list[Snapshot]:
    """Snapshots with ``start <= t <= end``, plus the one just before (the delta base)."""
    inside = [s for s in snapshots if start <= s.t <= end]
    before = [s for s in snapshots if s.t < start]
    return ([before[-1]] if before else []) + inside


def evaluate(
    check: Check,
    snapshots: Sequence[Snapshot],
    signals: Mapping[str, Signal],
    *,
    phase: str,
    detail: Callable[[str], str] | None = None,
    clients: Sequence[str] | None = None,
) -> list[CheckResult]:
    """``clients``: whom to judge, when not the check's own (a client of one's own)."""
    signal = signals[check.signal]
    age = signals.get(RUNNING)
    results = []
    for client in clients_of(check) if clients is None else clients:
        value = signal.value(snapshots, client) if len(snapshots) >= 2 else None
        running = age.value(snapshots, client) if age is not None and snapshots else None
        results.append(
            CheckResult(
                description=check.description or f"{check.signal} {check.op} {check.threshold:g}",
                phase=phase,  # type: ignore[arg-type]
                client=client,
                metric=check.signal,
                op=check.op,
                threshold=check.threshold,
                observed=value,
                passed=holds(check.op, value, check.threshold),
                detail=detail(client) if detail is not None else "",
                unit=signal.unit,
                running_s=running or 0.0,
            )
        )
    return results
