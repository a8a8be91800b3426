"""``slicer``: cut each chunk into pieces of about ``average_size`` bytes, ``delay`` µs apart.

Real networks deliver a write in several reads; code that assumes one read per
message breaks here. Piece sizes are drawn uniformly from average_size ±
size_variation. An ``average_size`` of 0 (the default) slices nothing: Toxiproxy
accepts it, then recurses without end on the first chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.proxy.stream import Chunk
from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import TCP, InvalidAttribute, Toxic

if TYPE_CHECKING:
    import random

    from chaos.proxy.stub import ToxicStub


@register("slicer")
@dataclass(frozen=True, slots=True)
class Slicer(Toxic):
    protocols = TCP

    average_size: int = 0
    """Bytes per piece on average; 0 = pass chunks whole."""
    size_variation: int = 0
    """± bytes around the average; less than average_size."""
    delay: int = 0
    """Microseconds between pieces."""

    def validate(self) -> None:
        if self.average_size and self.size_variation >= self.average_size:
            raise InvalidAttribute('attribute "size_variation" must be less than "average_size"')

    def sizes(self, total: int, rng: random.Random) -> list[int]:
        """Piece sizes that add up to ``total``."""
        if not self.average_size:
            return [total]
        sizes: list[int] = []
        low = self.average_size - self.size_variation
        high = self.average_size + self.size_variation
        while total > 0:
            size = min(total, rng.randint(low, high))
            sizes.append(size)
            total -= size
        return sizes

    async def pipe(self, stub: ToxicStub) -> None:
        while (chunk := await stub.read()) is not None:
            offset = 0
            for size in self.sizes(len(chunk.data), stub.rng):
                await stub.write(Chunk(chunk.data[offset : offset + size], chunk.timestamp))
                offset += size
                if offset < len(chunk.data) and not await stub.sleep(self.delay / 1e6):
                    await stub.write(Chunk(chunk.data[offset:], chunk.timestamp))
                    return
        stub.close()
