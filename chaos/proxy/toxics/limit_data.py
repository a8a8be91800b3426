"""``limit_data``: let ``bytes`` bytes through, then close the connection.

The count is per connection and survives updates of the toxic (stub state). On
UDP, whole datagrams pass while they fit in the budget of the session and the
rest are dropped.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.proxy.stream import Chunk
from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import TCP, UDP, DatagramContext, Emitted, Toxic

if TYPE_CHECKING:
    from chaos.proxy.stub import ToxicStub


class _Sent:
    __slots__ = ("bytes",)

    def __init__(self) -> None:
        self.bytes = 0


@register("limit_data")
@dataclass(frozen=True, slots=True)
class LimitData(Toxic):
    protocols = TCP | UDP

    bytes: int = 0
    """Bytes allowed through before the connection closes."""

    def new_state(self) -> _Sent:
        return _Sent()

    async def pipe(self, stub: ToxicStub) -> None:
        sent: _Sent = stub.state
        while (chunk := await stub.read()) is not None:
            data = chunk.data[: max(0, self.bytes - sent.bytes)]
            if data:
                sent.bytes += len(data)
                await stub.write(Chunk(data, chunk.timestamp))
            if sent.bytes >= self.bytes:
                break
        stub.close()

    def datagram(self, data: builtins.bytes, ctx: DatagramContext) -> Emitted:
        sent: _Sent = ctx.state
        if sent.bytes + len(data) > self.bytes:
            return ()
        sent.bytes += len(data)
        return ((0.0, data),)
