"""A client's own clock: the system clock plus a correction learnt from NTP.

Each client keeps its own, so one can be led astray by a lying time server while the
other is not, and the gap between them is exactly what ``fallacies_workload_clock_offset_seconds``
shows: the client's time minus the true (system) time. Signed requests carry this
clock's time, which is how a bad clock becomes a 403 ``RequestTimeTooSkewed``.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class ClientClock:
    """``time()`` = system time + correction; ``step()`` moves the correction, never the host."""

    def __init__(self, *, system_ns: Callable[[], int] = time.time_ns) -> None:
        self._system_ns = system_ns
        self._correction_ns = 0

    def time_ns(self) -> int:
        return self._system_ns() + self._correction_ns

    def time(self) -> float:
        return self.time_ns() / 1e9

    @property
    def offset(self) -> float:
        """Seconds this clock is ahead of the true clock (negative: behind)."""
        return self._correction_ns / 1e9

    def step(self, offset_s: float) -> None:
        """Jump by ``offset_s``: what an SNTP sample measured as server time minus ours."""
        self._correction_ns += round(offset_s * 1e9)
