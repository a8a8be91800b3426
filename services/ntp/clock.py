"""The clock an SNTP server serves: the host's clock plus whatever it has been told to claim.

served(t) = t + offset + drift_ppm * 1e-6 * (t - drift_since)

Every change re-anchors the line at "now": ``drift_since`` moves to the moment of the
change and ``offset`` becomes the served offset at that moment (the value given, or the
one accumulated so far when only other fields change). So changing the drift bends the
served clock without a jump, and setting an offset steps it to exactly that value.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final

from services.common.errors import FieldError
from services.ntp.packet import LEAP_ALARM, LEAP_NONE, STRATUM_MAX

TimeSource = Callable[[], int]
"""Returns Unix time in nanoseconds; ``time.time_ns`` outside tests."""

MAX_OFFSET_SECONDS: Final = 10 * 366 * 86_400.0
"""Ten years: far beyond any skew worth demonstrating, far inside NTP's ±68-year window."""

MAX_DRIFT_PPM: Final = 100_000.0
"""0.1 s per second: a real quartz is within ±500 ppm; more only speeds up a workshop demo."""

HONEST_STRATUM: Final = 1


@dataclass(frozen=True, slots=True)
class Lies:
    """What a server claims; construction validates, so a bad value never reaches a reply."""

    offset: float = 0.0  # seconds, at drift_since
    drift_ppm: float = 0.0  # parts per million
    stratum: int = HONEST_STRATUM  # 1..15
    leap: int = LEAP_NONE  # 0..3

    def __post_init__(self) -> None:
        _check_number("offset", self.offset, MAX_OFFSET_SECONDS, "seconds")
        _check_number("drift_ppm", self.drift_ppm, MAX_DRIFT_PPM, "ppm")
        if not 1 <= self.stratum <= STRATUM_MAX:
            raise FieldError("stratum", f"must be 1..{STRATUM_MAX}, got {self.stratum}")
        if not LEAP_NONE <= self.leap <= LEAP_ALARM:
            raise FieldError("leap", f"must be 0..3, got {self.leap}")


def _check_number(field: str, value: float, limit: float, unit: str) -> None:
    if not math.isfinite(value) or abs(value) > limit:
        raise FieldError(field, f"must be a finite number within ±{limit:g} {unit}, got {value}")


class LyingClock:
    """Served time for one server; the time source is injectable so tests need no sleeps."""

    def __init__(self, lies: Lies | None = None, *, time_ns: TimeSource = time.time_ns) -> None:
        self._time_ns = time_ns
        self._lies = Lies()
        self._offset_ns = 0
        self._drift = 0.0  # ns of offset per ns elapsed
        self._since_ns = time_ns()
        self.tell(lies or Lies())

    @property
    def stratum(self) -> int:
        return self._lies.stratum

    @property
    def leap(self) -> int:
        return self._lies.leap

    @property
    def drift_since_ns(self) -> int:
        return self._since_ns

    @property
    def time_source(self) -> TimeSource:
        """Where true (host) time comes from; the protocol reads it once per datagram."""
        return self._time_ns

    def serve(self, true_ns: int) -> int:
        """Served Unix time in ns for a moment read from ``time_ns()``; the per-packet path."""
        if self._drift == 0.0:
            return true_ns + self._offset_ns
        return true_ns + self._offset_ns + round(self._drift * (true_ns - self._since_ns))

    def offset_at(self, true_ns: int | None = None) -> float:
        """Served minus true time in seconds, drift included (what a perfect client measures)."""
        if true_ns is None:
            true_ns = self._time_ns()
        return (self.serve(true_ns) - true_ns) / 1e9

    def lies(self) -> Lies:
        """The current claims, re-anchored at now (``offset`` includes accumulated drift)."""
        return replace(self._lies, offset=self.offset_at())

    def tell(self, lies: Lies, *, now_ns: int | None = None) -> None:
        """Replace every claim at once; the drift starts accumulating from now."""
        now = self._time_ns() if now_ns is None else now_ns
        self._lies = lies
        self._offset_ns = round(lies.offset * 1e9)
        self._drift = lies.drift_ppm * 1e-6
        self._since_ns = now

    def update(self, **changes: Any) -> Lies:
        """Change some claims, keep the rest, and keep the served clock continuous.

        Validates everything before changing anything, so a bad field leaves the clock as it was.
        """
        now = self._time_ns()
        lies = replace(self._lies, **{"offset": self.offset_at(now), **changes})
        self.tell(lies, now_ns=now)
        return lies

    def reset(self) -> None:
        """Tell the truth again: no offset, no drift, stratum 1, no leap warning."""
        self.tell(Lies())

    def snapshot(self) -> dict[str, Any]:
        """The admin API's view: the claims plus what they add up to right now."""
        now = self._time_ns()
        return {
            "offset": self._lies.offset,
            "drift_ppm": self._lies.drift_ppm,
            "drift_since": self._since_ns / 1e9,
            "served_offset": self.offset_at(now),
            "stratum": self._lies.stratum,
            "leap": self._lies.leap,
            "lying": self._lies != Lies(),
        }
