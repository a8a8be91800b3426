"""``http_abort``: close the connection after ``bytes`` bytes of a matching response's body.

A server or middlebox that dies mid-answer, on one request of a kept-alive
connection: the head says how long the body is, and the client gets less, then
the end of the connection (0 cuts right after the head).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.proxy.stream import Direction
from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import HttpToxic

if TYPE_CHECKING:
    from chaos.proxy.http.exchange import Exchange, HttpContext


@register("http_abort")
@dataclass(frozen=True, slots=True)
class HttpAbort(HttpToxic):
    streams = frozenset({Direction.DOWNSTREAM})

    bytes: int = 0
    """Bytes of the response body let through before the connection is closed."""

    async def on_response(self, exchange: Exchange, ctx: HttpContext) -> None:
        if exchange.cut_after is None or self.bytes < exchange.cut_after:
            exchange.cut_after = self.bytes
