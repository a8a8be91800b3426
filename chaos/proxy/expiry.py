"""TTL timers inside the proxy, so a fault ends on time even if whoever injected it is gone.

A runner that is ``kill -9``'d cannot roll back; the proxy that holds the fault
can. Each timer is keyed (``("toxic", link, name)``, ``("proxy", link)``), so
setting a new TTL replaces the old one, and it runs an async action on a task
the proxy keeps until it finishes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable

__all__ = ["Expiry"]

log = logging.getLogger(__name__)


class Expiry:
    """Keyed one-shot timers on the running loop, with wall-clock deadlines for display."""

    def __init__(self) -> None:
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._running: set[asyncio.Task[None]] = set()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._timers

    def schedule(
        self, key: Hashable, seconds: float, action: Callable[[], Awaitable[None]]
    ) -> float:
        """Run ``action`` in ``seconds``; returns the wall-clock deadline (epoch seconds)."""
        self.cancel(key)
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(seconds, self._fire, key, action)
        return time.time() + seconds

    def cancel(self, key: Hashable) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def cancel_all(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    async def wait_running(self) -> None:
        """Let actions already firing finish (used on shutdown)."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    def _fire(self, key: Hashable, action: Callable[[], Awaitable[None]]) -> None:
        self._timers.pop(key, None)
        task = asyncio.get_running_loop().create_task(self._run(key, action))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, key: Hashable, action: Callable[[], Awaitable[None]]) -> None:
        try:
            await action()
        except Exception:
            log.exception("expiry of %r failed", key)
