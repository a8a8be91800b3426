"""``truncate`` (UDP): datagrams longer than ``max_size`` bytes are cut, or dropped.

The homogeneity fallacy in one toxic: a path with a small MTU, or a middlebox
that trims DNS answers to 512 bytes. With ``drop: true`` oversize datagrams
vanish instead (a path that fragments and loses the fragments).
"""

from __future__ import annotations

from dataclasses import dataclass

from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import UDP, DatagramContext, Emitted, Toxic


@register("truncate")
@dataclass(frozen=True, slots=True)
class Truncate(Toxic):
    protocols = UDP

    max_size: int = 512
    """Bytes; longer datagrams are cut to this size (or dropped)."""
    drop: bool = False
    """Drop oversize datagrams instead of cutting them."""

    def datagram(self, data: bytes, ctx: DatagramContext) -> Emitted:
        if len(data) <= self.max_size:
            return ((0.0, data),)
        if self.drop:
            return ()
        return ((0.0, data[: self.max_size]),)
