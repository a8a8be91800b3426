"""``http_body``: truncate, corrupt or replace the body of matching requests or responses.

The body streams through and is never held whole. By default the head stays
true: Content-Length follows the change. With ``fix_length: false`` it keeps
the old length on purpose — a body shorter than promised leaves the peer
waiting for the rest until the connection closes, which it then does. A
chunked body is re-chunked, so its framing is always true.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.proxy.http.exchange import set_header
from chaos.proxy.stream import Direction
from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import HttpMessageToxic, InvalidAttribute

if TYPE_CHECKING:
    from chaos.proxy.http.exchange import BodyFilter, Exchange, Headers, HttpContext

_MODES = ("truncate", "corrupt", "replace")


@register("http_body")
@dataclass(frozen=True, slots=True)
class HttpBody(HttpMessageToxic):
    mode: str = "truncate"
    """truncate (keep the first bytes), corrupt (invert bytes), or replace (send body instead)."""
    bytes: int = 0
    """Bytes of the body kept (truncate)."""
    every: int = 1024
    """Bytes per inverted byte (corrupt): one in every this many, at a random place in each."""
    body: str = ""
    """replace: the body sent instead."""
    fix_length: bool = True
    """Keep Content-Length true to the changed body; false leaves it as it was."""

    def validate(self) -> None:
        if self.mode not in _MODES:
            raise InvalidAttribute(f'attribute "mode" must be one of {", ".join(_MODES)}')
        if self.mode == "corrupt" and self.every < 1:
            raise InvalidAttribute('attribute "every" must be at least 1 byte')

    async def change(self, exchange: Exchange, ctx: HttpContext) -> None:
        if not exchange.has_body(ctx.stream):
            return
        headers = exchange.headers(ctx.stream)
        length = _length(headers)
        body: BodyFilter
        if self.mode == "truncate":
            body, new = _Truncate(self.bytes), None if length is None else min(length, self.bytes)
        elif self.mode == "corrupt":
            body, new = _Corrupt(self.every, ctx.rng), length
        else:
            body, new = _Replace(self.body.encode()), len(self.body.encode())
        exchange.filters(ctx.stream).append(body)
        if length is None or new == length:
            return
        if self.fix_length:
            set_header(headers, b"content-length", str(new).encode())
        elif ctx.stream is Direction.UPSTREAM:
            exchange.request_length_fixed = False
        else:
            exchange.response_length_fixed = False


def _length(headers: Headers) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value)
    return None


class _Truncate:
    def __init__(self, keep: int) -> None:
        self._left = keep

    def feed(self, data: bytes) -> bytes:
        data = data[: self._left]
        self._left -= len(data)
        return data

    def end(self) -> bytes:
        return b""


class _Corrupt:
    def __init__(self, every: int, rng: random.Random) -> None:
        self._every = every
        self._rng = rng
        self._offset = 0
        self._target = rng.randrange(every)

    def feed(self, data: bytes) -> bytes:
        out = bytearray(data)
        start = self._offset
        end = start + len(out)
        while self._target < end:
            out[self._target - start] ^= 0xFF
            block = self._target // self._every + 1
            self._target = block * self._every + self._rng.randrange(self._every)
        self._offset = end
        return bytes(out)

    def end(self) -> bytes:
        return b""


class _Replace:
    def __init__(self, body: bytes) -> None:
        self._body: bytes | None = body

    def feed(self, data: bytes) -> bytes:
        return self.end()

    def end(self) -> bytes:
        body, self._body = self._body, b""
        return body or b""
