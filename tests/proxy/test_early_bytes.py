"""Bytes a socket delivered before its pipelines were joined, and the pause they cause.

uvloop reads a socket as soon as it is wrapped, so a burst can arrive before
``attach``; when passing it on fills the relay's inbox, the pause it asks for
must stick. Resuming after it let a client send a 50 MB body into memory.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from chaos.proxy.tcp_link import Connection, _Endpoint


class _Transport:
    def __init__(self) -> None:
        self.reading = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return False


class _Filling:
    """What the endpoint feeds: it asks the socket to pause past ``limit`` bytes."""

    def __init__(self, endpoint: _Endpoint, limit: int) -> None:
        self.endpoint, self.limit, self.held = endpoint, limit, 0

    def feed(self, data: bytes) -> None:
        self.held += len(data)
        if self.held > self.limit:
            self.endpoint.pause(True)

    def feed_eof(self) -> None:
        pass

    def dest_paused(self, paused: bool) -> None:
        pass


def _endpoint() -> tuple[_Endpoint, _Transport]:
    endpoint = _Endpoint(cast(Connection, None))
    transport = _Transport()
    endpoint.connection_made(cast(asyncio.Transport, transport))
    return endpoint, transport


def test_a_pause_asked_for_by_early_bytes_is_kept() -> None:
    endpoint, transport = _endpoint()
    endpoint.data_received(b"x" * 300_000)
    endpoint.data_received(b"y" * 300_000)
    sink = _Filling(endpoint, limit=256 * 1024)
    endpoint.attach(cast(Any, sink), cast(Any, sink))
    assert sink.held == 600_000
    assert not transport.reading


def test_reading_resumes_when_early_bytes_fit() -> None:
    endpoint, transport = _endpoint()
    assert not transport.reading
    endpoint.data_received(b"x" * 1000)
    sink = _Filling(endpoint, limit=256 * 1024)
    endpoint.attach(cast(Any, sink), cast(Any, sink))
    assert sink.held == 1000
    assert transport.reading


def test_bytes_before_the_pipelines_pause_the_socket() -> None:
    """Until it has somewhere to go, a socket is not read past its first delivery."""
    endpoint, transport = _endpoint()
    transport.resume_reading()  # as uvloop does after connection_made
    endpoint.data_received(b"x" * 1000)
    assert not transport.reading
