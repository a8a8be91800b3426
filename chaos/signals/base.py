"""What a signal is: a number per client computed from a window of metric snapshots.

The runner scrapes every node's ``/metrics`` once a second into a ``Snapshot``;
a signal turns the snapshots of a window into one value (a ratio of counter deltas,
a histogram quantile, a gauge's max ...). Charts use a short sliding window; the
expectations use the whole fault window.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Labels = tuple[tuple[str, str], ...]
"""Sorted (name, value) pairs; every sample also carries ``node`` (who exposed it)."""
SeriesKey = tuple[str, Labels]
"""(sample name, labels), e.g. ("fallacies_workload_journeys_total", (("client","naive"), ...))."""


@dataclass(frozen=True)
class Snapshot:
    t: float
    """Seconds since the run started."""
    values: Mapping[SeriesKey, float]


class Signal(abc.ABC):
    name: str
    title: str
    unit: str
    description: str = ""

    @abc.abstractmethod
    def value(self, window: Sequence[Snapshot], client: str) -> float | None:
        """The signal over ``window`` (oldest first) for ``client``; None if not computable."""
