"""An event loop on a thread of its own, so sync tests and pytest-asyncio tests alike can
drive async servers without sharing (or blocking) the test's own loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

CALL_TIMEOUT_S = 30.0
"""Longest any one call into the background loop may take: a test hangs on nothing."""


class BackgroundLoop:
    def __init__(self, name: str = "fallacies-testing") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT_S) -> T:
        """Run ``coroutine`` on the background loop and wait for it, from any thread."""
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("called from the background loop itself; await instead")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
