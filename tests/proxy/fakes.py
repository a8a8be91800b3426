"""An in-memory stand-in for time and for a connection, so toxics run without sockets or waiting."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Callable

from chaos.proxy.channel import Channel
from chaos.proxy.stream import Chunk, Direction
from chaos.proxy.stub import ToxicStub
from chaos.proxy.toxics.base import DatagramContext, Stateful, Toxic


class _Handle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """Time moves only when a test calls ``advance``; timers fire in order as it does."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self._timers: list[tuple[float, int, Callable[[], object], _Handle]] = []
        self._seq = itertools.count()

    lead = 0.0

    def now(self) -> float:
        return self.t

    def call_at(self, when: float, callback: Callable[[], object]) -> _Handle:
        handle = _Handle()
        heapq.heappush(self._timers, (when, next(self._seq), callback, handle))
        return handle

    async def advance(self, seconds: float) -> None:
        target = self.t + seconds
        await settle()
        while self._timers and self._timers[0][0] <= target:
            when, _, callback, handle = heapq.heappop(self._timers)
            if handle.cancelled:
                continue
            self.t = max(self.t, when)
            callback()
            await settle()
        self.t = target
        await settle()


async def settle(rounds: int = 30) -> None:
    """Let every ready task run until nothing moves (bounded)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class Harness:
    """One toxic on one in-memory stream: push chunks in, read what comes out."""

    def __init__(
        self, toxic: Toxic, clock: FakeClock | None = None, *, seed: int = 0, active: bool = True
    ) -> None:
        self.clock = clock or FakeClock()
        self.input = Channel(capacity=toxic.buffer_size)
        self.output = Channel(capacity=1_000_000, max_bytes=1 << 40)
        self.resets = 0
        state = toxic.new_state() if isinstance(toxic, Stateful) else None
        self.stub = ToxicStub(
            self.input, self.output, clock=self.clock, state=state, on_reset=self._reset
        )
        self.stub.start(toxic if active else None, random.Random(seed))  # type: ignore[arg-type]

    def _reset(self) -> None:
        self.resets += 1

    def send(self, data: bytes) -> None:
        self.input.put_nowait(Chunk(data, self.clock.now()))

    def eof(self) -> None:
        self.input.put_nowait(None)

    def out(self) -> list[bytes | None]:
        """Everything emitted so far (None = end of stream), and forget it."""
        return [None if item is None else item.data for item in self.output.take_all()]

    def data(self) -> bytes:
        return b"".join(item for item in self.out() if item is not None)


def context(state: object = None, *, now: float = 0.0, seed: int = 0) -> DatagramContext:
    return DatagramContext(now, random.Random(seed), state, Direction.DOWNSTREAM)
