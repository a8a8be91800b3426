"""``reset_peer``: once data arrives, wait ``timeout`` ms, then reset the connection (TCP RST).

The connection is aborted with SO_LINGER 0 on both sockets, so both peers see
"connection reset by peer" rather than an orderly close. The chunk that
triggered the reset is dropped, as in Toxiproxy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import TCP, Toxic

if TYPE_CHECKING:
    from chaos.proxy.stub import ToxicStub


@register("reset_peer")
@dataclass(frozen=True, slots=True)
class ResetPeer(Toxic):
    protocols = TCP

    timeout: int = 0
    """Milliseconds between the first chunk and the reset; 0 = at once."""

    async def pipe(self, stub: ToxicStub) -> None:
        chunk = await stub.read()
        if not await stub.sleep(self.timeout / 1000):
            if chunk is None:
                stub.close()
            else:
                await stub.write(chunk)
            return
        stub.close(reset=True)
