"""``timeout``: a black hole. Data is dropped; after ``timeout`` ms the connection is closed.

With ``timeout`` 0 the connection is held open, silent, until the toxic goes.
Removing the toxic closes the connections it held (Toxiproxy's ``Cleanup``):
their streams have lost data and cannot carry on. The deadline counts from when
the toxic starts on a connection (Toxiproxy restarts it on every chunk it drops,
so a chatty client there is never cut off; here it is, as the README says).

On UDP every datagram is dropped whatever the timeout: there is no connection to close.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import TCP, UDP, DatagramContext, Emitted, Toxic

if TYPE_CHECKING:
    from chaos.proxy.stub import ToxicStub


@register("timeout")
@dataclass(frozen=True, slots=True)
class Timeout(Toxic):
    protocols = TCP | UDP

    timeout: int = 0
    """Milliseconds before the connection is closed; 0 = never."""

    async def pipe(self, stub: ToxicStub) -> None:
        deadline = stub.now() + self.timeout / 1000 if self.timeout else None
        try:
            while await stub.read(deadline) is not None:
                pass
        except TimeoutError:
            pass
        stub.close()

    def cleanup(self, stub: ToxicStub) -> None:
        stub.close()

    def datagram(self, data: bytes, ctx: DatagramContext) -> Emitted:
        return ()
