"""``bandwidth``: limit a direction to ``rate`` KB/s (1 KB = 1000 bytes, as Toxiproxy).

TCP: a chunk leaves in pieces of at most 20 ms worth of data, each once the
link would have finished sending it, with the schedule kept on the clock so
sleep overshoot does not add up. UDP: each datagram waits for the ones queued
before it in the same session (serialisation delay). A rate of 0 means no
limit, as in Toxiproxy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.proxy.stream import Chunk
from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import TCP, UDP, DatagramContext, Emitted, Toxic

if TYPE_CHECKING:
    from chaos.proxy.stub import ToxicStub

PIECE_SECONDS = 0.02
"""How much transmission time one piece of a TCP chunk stands for."""


class _Queue:
    """When the simulated wire is next free (clock seconds)."""

    __slots__ = ("free_at",)

    def __init__(self) -> None:
        self.free_at = 0.0


@register("bandwidth")
@dataclass(frozen=True, slots=True)
class Bandwidth(Toxic):
    protocols = TCP | UDP

    rate: int = 0
    """KB/s (1000 bytes per second); 0 = unlimited."""

    def new_state(self) -> _Queue:
        return _Queue()

    async def pipe(self, stub: ToxicStub) -> None:
        queue: _Queue = stub.state
        bytes_per_second = self.rate * 1000
        piece = max(1, int(bytes_per_second * PIECE_SECONDS))
        while (chunk := await stub.read()) is not None:
            if not bytes_per_second:
                await stub.write(chunk)
                continue
            queue.free_at = max(queue.free_at, stub.now())
            data = chunk.data
            for start in range(0, len(data), piece):
                part = data[start : start + piece]
                queue.free_at += len(part) / bytes_per_second
                if not await stub.sleep_until(queue.free_at):
                    await stub.write(Chunk(data[start:], chunk.timestamp))
                    return
                await stub.write(Chunk(part, chunk.timestamp))
        stub.close()

    def datagram(self, data: bytes, ctx: DatagramContext) -> Emitted:
        if not self.rate:
            return ((0.0, data),)
        queue: _Queue = ctx.state
        queue.free_at = max(queue.free_at, ctx.now) + len(data) / (self.rate * 1000)
        return ((queue.free_at - ctx.now, data),)
