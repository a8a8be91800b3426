"""``partition``: cut one direction of a link (extension; ``stream`` says which).

A full partition is disabling the link (Toxiproxy's ``enabled: false``: listener
and connections closed). This toxic is the half that Toxiproxy lacks
(Shopify/toxiproxy#479): data in its direction stops, the other direction flows.

* TCP: nothing is read on that side any more, so data waits in the proxy and
  then in the sender's socket buffers, as behind a real partition; when the
  toxic is removed what waited is delivered (TCP would have retransmitted it).
  A connection that must lose data instead is the ``timeout`` toxic.
* UDP: datagrams in that direction are dropped (and counted as dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import TCP, UDP, DatagramContext, Emitted, Toxic

if TYPE_CHECKING:
    from chaos.proxy.stub import ToxicStub


@register("partition")
@dataclass(frozen=True, slots=True)
class Partition(Toxic):
    protocols = TCP | UDP

    async def pipe(self, stub: ToxicStub) -> None:
        await stub.hold()

    def datagram(self, data: bytes, ctx: DatagramContext) -> Emitted:
        return ()
