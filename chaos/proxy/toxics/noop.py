"""``noop``: passes everything through; Toxiproxy registers it too, handy for tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.proxy.stub import passthrough
from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import TCP, UDP, DatagramContext, Emitted, Toxic

if TYPE_CHECKING:
    from chaos.proxy.stub import ToxicStub


@register("noop")
@dataclass(frozen=True, slots=True)
class Noop(Toxic):
    protocols = TCP | UDP

    async def pipe(self, stub: ToxicStub) -> None:
        await passthrough(stub)

    def datagram(self, data: bytes, ctx: DatagramContext) -> Emitted:
        return ((0.0, data),)
