"""DNS over TCP (RFC 7766): 2-byte length framing, pipelined queries, idle timeout.

A connection carries any number of queries; each is answered in order as soon
as its frame is complete. A connection with no *whole* query for ``idle_timeout``
seconds is closed: bytes alone do not count, so a slowloris trickling one byte a
second cannot hold a socket. One client IP may hold ``max_per_client`` connections;
one more is closed at once (RFC 7766 §6.2.2 leaves the limits to the server).
"""

from __future__ import annotations

import asyncio
from time import perf_counter
from typing import cast

from services.dns.handler import QueryHandler, Transport
from services.dns.metrics import DNSMetrics, Recorder


class TCPProtocol(asyncio.Protocol):
    def __init__(
        self,
        handler: QueryHandler,
        recorder: Recorder,
        *,
        idle_timeout: float,
        connections: set[asyncio.Transport],
        per_client: dict[str, int] | None = None,
        max_per_client: int = 0,
        metrics: DNSMetrics | None = None,
    ) -> None:
        self._handler = handler
        self._recorder = recorder
        self._per_client = per_client if per_client is not None else {}
        self._max_per_client = max_per_client
        self._metrics = metrics
        self._client: str | None = None
        self._idle_timeout = idle_timeout
        self._connections = connections
        self._loop = asyncio.get_running_loop()
        self._buffer = bytearray()
        self._last_activity = 0.0
        self._transport: asyncio.Transport | None = None
        self._idle_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio's, hence a cast, not isinstance.
        self._transport = cast(asyncio.Transport, transport)
        peer = self._transport.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if self._max_per_client and self._per_client.get(client, 0) >= self._max_per_client:
            self._closed("over_cap")
            self._transport.close()
            return
        self._client = client
        self._per_client[client] = self._per_client.get(client, 0) + 1
        self._connections.add(self._transport)
        self._last_activity = self._loop.time()
        self._idle_timer = self._loop.call_later(self._idle_timeout, self._check_idle)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= 2:
            size = (buffer[0] << 8) | buffer[1]
            if len(buffer) < 2 + size:
                break
            message = bytes(buffer[2 : 2 + size])
            del buffer[: 2 + size]
            self._last_activity = self._loop.time()
            self._answer(message)

    def _answer(self, message: bytes) -> None:
        started = perf_counter()
        response, outcome = self._handler.respond(message, Transport.TCP)
        if response is not None and self._transport is not None:
            self._transport.write(len(response).to_bytes(2, "big") + response)
        self._recorder.observe(outcome, perf_counter() - started)

    def pause_writing(self) -> None:
        # A client that sends queries but never reads answers gets no more reads from us.
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    def _check_idle(self) -> None:
        if self._transport is None:
            return
        idle = self._loop.time() - self._last_activity
        if idle >= self._idle_timeout:
            self._closed("idle")
            self._transport.close()
        else:
            self._idle_timer = self._loop.call_later(self._idle_timeout - idle, self._check_idle)

    def _closed(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.tcp_closed.labels(reason).inc()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self._client is not None:
            left = self._per_client.get(self._client, 1) - 1
            if left > 0:
                self._per_client[self._client] = left
            else:
                self._per_client.pop(self._client, None)
            self._client = None
        if self._transport is not None:
            self._connections.discard(self._transport)
        self._transport = None
        self._buffer.clear()
