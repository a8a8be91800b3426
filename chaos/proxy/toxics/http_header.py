"""``http_header``: add, replace or remove a header of matching requests (upstream) or responses.

Tampering in flight: a proxy that strips a header it does not know, or an
attacker who rewrites one. Framing headers (Content-Length, Transfer-Encoding)
are refused: changing them is ``http_body``'s job, which keeps them true.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.proxy.http.exchange import set_header
from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import HttpMessageToxic, InvalidAttribute

if TYPE_CHECKING:
    from chaos.proxy.http.exchange import Exchange, HttpContext

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FRAMING = {"content-length", "transfer-encoding", "connection", "upgrade"}
_ACTIONS = ("set", "add", "remove")


@register("http_header")
@dataclass(frozen=True, slots=True)
class HttpHeader(HttpMessageToxic):
    name: str = ""
    """The header's name, e.g. X-Signature."""
    value: str = ""
    """The value set or added (ignored by remove)."""
    action: str = "set"
    """set (replace every such header by one), add (one more), or remove (every one)."""

    def validate(self) -> None:
        if not _TOKEN.fullmatch(self.name):
            raise InvalidAttribute('attribute "name" must be a header name, e.g. X-Signature')
        if self.name.lower() in _FRAMING:
            raise InvalidAttribute(
                f'attribute "name": {self.name} frames the message;'
                " use http_body to change the body"
            )
        if self.action not in _ACTIONS:
            raise InvalidAttribute(f'attribute "action" must be one of {", ".join(_ACTIONS)}')
        if any(c in self.value for c in "\r\n\0") or not self.value.isascii():
            raise InvalidAttribute('attribute "value" must be printable ASCII on one line')

    async def change(self, exchange: Exchange, ctx: HttpContext) -> None:
        headers = exchange.headers(ctx.stream)
        name, value = self.name.encode(), self.value.encode()
        if self.action == "add":
            headers.append((name, value))
        else:
            set_header(headers, name, None if self.action == "remove" else value)
