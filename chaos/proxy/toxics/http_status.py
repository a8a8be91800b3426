"""``http_status``: answer a share of matching requests with a status, never asking the upstream.

The 503 storm of an overloaded service or a load balancer with no healthy
backend, per request on a kept-alive connection: some requests are refused, the
next one on the same connection may go through. With ``retry_after`` the
refusal says when to come back, as RFC 9110 section 10.2.3 lets a server do.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

from chaos.proxy.http.exchange import Answer
from chaos.proxy.stream import Direction
from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import HttpToxic, InvalidAttribute

if TYPE_CHECKING:
    from chaos.proxy.http.exchange import Exchange, HttpContext


@register("http_status")
@dataclass(frozen=True, slots=True)
class HttpStatus(HttpToxic):
    streams = frozenset({Direction.DOWNSTREAM})

    status: int = 503
    """The HTTP status answered (200 to 599)."""
    body: str = ""
    """The answer's body, sent as text/plain; empty for none."""
    retry_after: int = 0
    """Seconds the answer's Retry-After header asks the client to wait; no header when 0."""

    def validate(self) -> None:
        if not 200 <= self.status <= 599:
            raise InvalidAttribute('attribute "status" must be a final status, 200 to 599')

    async def on_request(self, exchange: Exchange, ctx: HttpContext) -> None:
        if exchange.answer is not None:
            return
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        if self.retry_after:
            headers.append((b"retry-after", str(self.retry_after).encode()))
        exchange.answer = Answer(self.status, headers, self.body.encode(), _reason(self.status))


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""
