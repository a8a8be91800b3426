"""Sliding-window series: a signal's value at every snapshot, for charts and live progress.

At each snapshot the window reaches back ``window_s`` seconds: from the latest
snapshot at or before ``t - window_s`` (the delta base, so a counter's growth covers
at least ``window_s``) to ``t``. Until a run is ``window_s`` old the window starts at
the first snapshot, and a counter signal is ``None`` at that first point.
"""

from __future__ import annotations

from collections.abc import Sequence

from chaos.signals.base import Signal, Snapshot

__all__ = ["series"]

_EPSILON_S = 1e-6
"""A snapshot exactly ``window_s`` old is the base despite float rounding of ``t``."""


def series(
    snapshots: Sequence[Snapshot], signal: Signal, client: str, window_s: float = 3.0
) -> list[tuple[float, float | None]]:
    """``[(t, value)]`` for every snapshot (oldest first), over the last ``window_s`` seconds."""
    if window_s < 0:
        raise ValueError(f"window_s must be >= 0, got {window_s}")
    points: list[tuple[float, float | None]] = []
    base = 0
    for i, snap in enumerate(snapshots):
        horizon = snap.t - window_s + _EPSILON_S
        while base < i and snapshots[base + 1].t <= horizon:
            base += 1
        points.append((snap.t, signal.value(snapshots[base : i + 1], client)))
    return points
