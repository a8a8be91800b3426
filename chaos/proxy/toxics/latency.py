"""``latency``: delay every chunk (TCP) or datagram (UDP) by latency ± jitter.

Jitter is drawn uniformly in [-jitter, +jitter] for each chunk, as Toxiproxy does.
On TCP the stream stays in order, so a chunk never overtakes the one before it;
on UDP each datagram is scheduled on its own, so jitter reorders datagrams as a
real network would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import TCP, UDP, DatagramContext, Emitted, Toxic

if TYPE_CHECKING:
    from chaos.proxy.stub import ToxicStub


def delay_s(latency_ms: int, jitter_ms: int, rng: random.Random) -> float:
    """Seconds, never negative: latency ± a uniform draw of jitter (``http_latency`` too)."""
    ms: float = latency_ms
    if jitter_ms:
        ms += rng.uniform(-jitter_ms, jitter_ms)
    return max(ms, 0) / 1000


@register("latency")
@dataclass(frozen=True, slots=True)
class Latency(Toxic):
    protocols = TCP | UDP
    buffer_size = 1024

    latency: int = 0
    """Milliseconds added to every chunk."""
    jitter: int = 0
    """Milliseconds; each chunk's delay is drawn uniformly from latency ± jitter."""

    def delay(self, rng: random.Random) -> float:
        return delay_s(self.latency, self.jitter, rng)

    async def pipe(self, stub: ToxicStub) -> None:
        while (chunk := await stub.read()) is not None:
            wait = self.delay(stub.rng) - (stub.now() - chunk.timestamp)
            if wait > 0:
                if not await stub.sleep(wait):
                    await stub.write(chunk)
                    return
                chunk.timestamp += wait
            await stub.write(chunk)
        stub.close()

    def datagram(self, data: bytes, ctx: DatagramContext) -> Emitted:
        return ((self.delay(ctx.rng), data),)
