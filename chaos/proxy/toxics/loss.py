"""``loss`` (UDP): drop each datagram with ``probability``.

``probability`` is drawn per datagram; ``toxicity`` keeps its Toxiproxy meaning
of "per connection", here per client session. So ``probability: 0.1`` loses
about one datagram in ten from every client, while ``toxicity: 0.5,
probability: 1`` cuts off about half the clients entirely.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import UDP, DatagramContext, Emitted, InvalidAttribute, Toxic


@register("loss")
@dataclass(frozen=True, slots=True)
class Loss(Toxic):
    protocols = UDP

    probability: float = 1.0
    """Chance that a datagram is dropped, 0 to 1."""

    def validate(self) -> None:
        if self.probability > 1:
            raise InvalidAttribute('attribute "probability" must be between 0 and 1')

    def datagram(self, data: bytes, ctx: DatagramContext) -> Emitted:
        if ctx.rng.random() < self.probability:
            return ()
        return ((0.0, data),)
