"""One request and its response, as HTTP toxics see and change them.

A toxic's ``on_request`` runs once the request head is in, before anything goes
upstream; ``on_response`` once the response head is in, before the client sees
it. Either may change the head in place, wait (``ctx.sleep``), add a body
filter, or, at request time, set ``exchange.answer`` so the upstream is never
asked.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from chaos.proxy.stream import Direction

__all__ = ["Answer", "BodyFilter", "Exchange", "Headers", "HttpContext", "set_header"]

Headers = list[tuple[bytes, bytes]]
"""Name and value pairs in wire order, names as they came (h11's ``raw_items``)."""


@dataclass(slots=True)
class Answer:
    """A response made up by a toxic instead of the upstream's."""

    status: int
    headers: Headers
    body: bytes
    reason: bytes = b""


class BodyFilter(Protocol):
    """Changes a body as it streams; never sees it whole."""

    def feed(self, data: bytes) -> bytes:
        """What to send in place of ``data``."""

    def end(self) -> bytes:
        """What to send before the end of the body."""


@dataclass(slots=True)
class Exchange:
    method: str
    target: str
    """The request target as sent, e.g. ``/journeys?id=7``."""
    request_headers: Headers
    status: int = 0
    """The response status, once the response head is in."""
    response_headers: Headers = field(default_factory=list)
    answer: Answer | None = None
    request_filters: list[BodyFilter] = field(default_factory=list)
    response_filters: list[BodyFilter] = field(default_factory=list)
    request_length_fixed: bool = True
    """False once a filter changed the request body's length and the head must not say so."""
    response_length_fixed: bool = True
    cut_after: int | None = None
    """Response body bytes after which the connection is closed (``http_abort``)."""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def headers(self, stream: Direction) -> Headers:
        """The request's headers on the upstream stream, the response's on the downstream."""
        return self.request_headers if stream is Direction.UPSTREAM else self.response_headers

    def has_body(self, stream: Direction) -> bool:
        """Whether the request (upstream) or response (downstream) carries a body at all."""
        if stream is Direction.DOWNSTREAM:
            return self.method != "HEAD" and self.status not in (204, 304)
        framing = {name.lower() for name, _ in self.request_headers}
        return bool(framing & {b"content-length", b"transfer-encoding"})

    def filters(self, stream: Direction) -> list[BodyFilter]:
        return self.request_filters if stream is Direction.UPSTREAM else self.response_filters


@dataclass(frozen=True, slots=True)
class HttpContext:
    """What one toxic knows about the exchange in hand."""

    stream: Direction
    """The toxic's own stream: upstream acts on the request, downstream on the response."""
    rng: random.Random
    sleep: Callable[[float], Awaitable[bool]]
    """Wait this many seconds; False when the toxic was removed meanwhile."""


def set_header(headers: Headers, name: bytes, value: bytes | None) -> None:
    """Replace every ``name`` header by one with ``value`` (removed when None), in place."""
    lower = name.lower()
    kept = [(k, v) for k, v in headers if k.lower() != lower]
    if value is not None:
        kept.append((name, value))
    headers[:] = kept
