"""``duplicate`` (UDP): send a datagram ``copies`` extra times, with ``probability``.

Copies leave ``delay`` ms after one another, so a receiver sees the same
request twice, the way a retransmitting network or a flapping route shows it;
code that is not idempotent does the work twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import UDP, DatagramContext, Emitted, InvalidAttribute, Toxic


@register("duplicate")
@dataclass(frozen=True, slots=True)
class Duplicate(Toxic):
    protocols = UDP

    probability: float = 1.0
    """Chance that a datagram is duplicated, 0 to 1."""
    copies: int = 1
    """Extra copies sent when it is."""
    delay: int = 0
    """Milliseconds between copies."""

    def validate(self) -> None:
        if self.probability > 1:
            raise InvalidAttribute('attribute "probability" must be between 0 and 1')

    def datagram(self, data: bytes, ctx: DatagramContext) -> Emitted:
        if not self.copies or ctx.rng.random() >= self.probability:
            return ((0.0, data),)
        return tuple((i * self.delay / 1000, data) for i in range(self.copies + 1))
