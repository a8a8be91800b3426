"""A FIFO of chunks between two stages of a pipeline.

    feed ──▶ Channel ──▶ stub ──▶ Channel ──▶ stub ──▶ Channel ──▶ sink

Unlike ``asyncio.Queue`` it can hand its contents over in one go (``take_all``,
``extend``), which is how a removed toxic's unread input reaches the next stage
in order; and its capacity is soft, so a stage that is being interrupted can
always flush what it holds without waiting on a stage that may have stopped.
``None`` is end of stream and travels like any other item.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable

from chaos.proxy.stream import Chunk

__all__ = ["DEFAULT_MAX_BYTES", "Channel", "Item"]

Item = Chunk | None

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
"""Bytes a channel holds before writers wait; enough for ~50 ms of latency at 80 MB/s."""


class Channel:
    """Bounded (softly) in items and bytes; readers and writers wait on futures."""

    __slots__ = ("_items", "capacity", "max_bytes", "nbytes", "_readers", "_writers")

    def __init__(self, capacity: int = 1, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._items: deque[Item] = deque()
        self.capacity = max(1, capacity)
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._readers: list[asyncio.Future[None]] = []
        self._writers: list[asyncio.Future[None]] = []

    def __len__(self) -> int:
        return len(self._items)

    def full(self) -> bool:
        return len(self._items) >= self.capacity or self.nbytes >= self.max_bytes

    def put_nowait(self, item: Item) -> None:
        """Append even when full: callers that must not block (the socket reader) use this."""
        self._items.append(item)
        if item is not None:
            self.nbytes += len(item.data)
        if self._readers:
            _wake(self._readers)

    def get_nowait(self) -> Item:
        item = self._items.popleft()
        if item is not None:
            self.nbytes -= len(item.data)
        if self._writers and not self.full():
            _wake(self._writers)
        return item

    def extend(self, items: Iterable[Item]) -> None:
        for item in items:
            self.put_nowait(item)

    def take_all(self) -> list[Item]:
        items = list(self._items)
        self._items.clear()
        self.nbytes = 0
        if self._writers:
            _wake(self._writers)
        return items

    def wait_readable(self) -> asyncio.Future[None]:
        """A future done once the channel has an item (already done if it has one)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._items:
            future.set_result(None)
        else:
            self._readers.append(future)
        return future

    def wait_writable(self) -> asyncio.Future[None]:
        """A future done once the channel is below capacity (already done if it is)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self.full():
            future.set_result(None)
        else:
            self._writers.append(future)
        return future


def _wake(waiters: list[asyncio.Future[None]]) -> None:
    for future in waiters:
        if not future.done():
            future.set_result(None)
    waiters.clear()
