"""DNS over UDP: one datagram in, at most one datagram out, nothing else per packet."""

from __future__ import annotations

import asyncio
import logging
from time import perf_counter
from typing import Any, cast

from services.dns.handler import QueryHandler, Transport
from services.dns.metrics import Recorder

log = logging.getLogger(__name__)


class UDPProtocol(asyncio.DatagramProtocol):
    """Kept to the bare minimum: this is the path the throughput target is measured on."""

    def __init__(self, handler: QueryHandler, recorder: Recorder) -> None:
        self._respond = handler.respond
        self._observe = recorder.observe
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio's, hence a cast, not isinstance.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        started = perf_counter()
        response, outcome = self._respond(data, Transport.UDP)
        if response is not None and self._transport is not None:
            self._transport.sendto(response, addr)
        self._observe(outcome, perf_counter() - started)

    def error_received(self, exc: Exception) -> None:
        # ICMP port-unreachable from a client that gave up: routine, not a server fault.
        log.debug("UDP error: %s", exc)
