"""The one way tests wait: poll a condition until it holds, with a deadline.

Suites differ only in their defaults (a node that must come up gets longer than a
proxy flag), so each binds its own with ``functools.partial`` and keeps the name
``eventually``.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


async def eventually(
    check: Callable[[], Any],
    *,
    timeout: float = 5.0,
    interval: float = 0.02,
    what: str = "condition",
) -> Any:
    """Call ``check`` (plain or async) until it returns something truthy, and return that;
    fail with the last value seen once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not true within {timeout} s (last: {result!r})")
        await asyncio.sleep(interval)
