"""``slow_close``: hold the end of stream (the FIN) back for ``delay`` ms; data flows as usual."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import TCP, Toxic

if TYPE_CHECKING:
    from chaos.proxy.stub import ToxicStub


@register("slow_close")
@dataclass(frozen=True, slots=True)
class SlowClose(Toxic):
    protocols = TCP

    delay: int = 0
    """Milliseconds between the end of stream arriving and being passed on."""

    async def pipe(self, stub: ToxicStub) -> None:
        while (chunk := await stub.read()) is not None:
            await stub.write(chunk)
        await stub.sleep(self.delay / 1000)
        stub.close()
