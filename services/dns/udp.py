"""DNS over UDP: one datagram in, at most one datagram out, nothing else per packet."""

from __future__ import annotations

import asyncio
import logging
from time import perf_counter
from typing import Any, cast

from services.dns.handler import QueryHandler, Transport
from services.dns.metrics import DNSMetrics, Recorder
from services.dns.rrl import ResponseRateLimiter, truncated

log = logging.getLogger(__name__)


class UDPProtocol(asyncio.DatagramProtocol):
    """Kept to the bare minimum: this is the path the throughput target is measured on."""

    def __init__(
        self,
        handler: QueryHandler,
        recorder: Recorder,
        limiter: ResponseRateLimiter | None = None,
        metrics: DNSMetrics | None = None,
    ) -> None:
        self._respond = handler.respond
        self._observe = recorder.observe
        self._limiter = limiter
        self._metrics = metrics
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio's, hence a cast, not isinstance.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        started = perf_counter()
        response, outcome = self._respond(data, Transport.UDP)
        if response is not None and self._limiter is not None:
            verdict = self._limiter.verdict(str(addr[0]), self._loop.time())
            if verdict != "send":
                if self._metrics is not None:
                    self._metrics.rate_limited.labels(verdict).inc()
                response = truncated(response) if verdict == "slip" else None
        if response is not None and self._transport is not None:
            self._transport.sendto(response, addr)
        self._observe(outcome, perf_counter() - started)

    def error_received(self, exc: Exception) -> None:
        # ICMP port-unreachable from a client that gave up: routine, not a server fault.
        log.debug("UDP error: %s", exc)
