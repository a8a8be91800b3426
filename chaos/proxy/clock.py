"""Time as the toxics see it: the event loop's clock, or a fake one in tests.

Toxics never call ``asyncio.sleep`` or ``time.monotonic`` themselves; they ask
their stub, which asks a ``Clock``. That is what lets the unit tests run a
latency toxic for "50 ms" in no time at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "LoopClock", "Timer"]


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale."""

    def call_at(self, when: float, callback: Callable[[], object]) -> Timer:
        """Run ``callback`` once ``now() >= when``."""


class LoopClock:
    """The running loop's clock (``loop.time()``), resolved lazily so it can be built anywhere."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def call_at(self, when: float, callback: Callable[[], object]) -> Timer:
        return asyncio.get_running_loop().call_at(when, callback)
