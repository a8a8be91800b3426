"""``http_latency``: hold a matching request's head (upstream) or its response's head (downstream).

A slow first byte from a server that thinks before it answers, per request:
unlike ``latency`` it does not slow every chunk of a stream, only the moment
the head goes out, so a kept-alive connection's other requests are not touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import HttpMessageToxic
from chaos.proxy.toxics.latency import delay_s

if TYPE_CHECKING:
    from chaos.proxy.http.exchange import Exchange, HttpContext


@register("http_latency")
@dataclass(frozen=True, slots=True)
class HttpLatency(HttpMessageToxic):
    latency: int = 0
    """Milliseconds before the head goes on."""
    jitter: int = 0
    """Milliseconds; each request's delay is drawn uniformly from latency ± jitter."""

    async def change(self, exchange: Exchange, ctx: HttpContext) -> None:
        await ctx.sleep(delay_s(self.latency, self.jitter, ctx.rng))
