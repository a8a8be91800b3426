"""Shared pieces for the SNTP tests: a started server, a raw UDP probe, polling."""

from __future__ import annotations

import asyncio
import functools
import socket
import time
from collections.abc import AsyncIterator
from typing import cast

import pytest
from prometheus_client.registry import CollectorRegistry

from services.ntp import NTPServer, Sample
from services.ntp.packet import MODE_CLIENT, Header, ns_to_ntp
from tests import polling


def request(*, version: int = 4, mode: int = MODE_CLIENT, transmit: int | None = None) -> bytes:
    stamp = ns_to_ntp(time.time_ns()) if transmit is None else transmit
    return Header(version=version, mode=mode, transmit=stamp).encode()


class Probe(asyncio.DatagramProtocol):
    """A connected UDP socket that queues what it receives, for raw packet tests."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.received.put_nowait(data)

    def send(self, data: bytes) -> None:
        """Straight to the socket: asyncio's transport silently skips empty datagrams."""
        self.sock.send(data)

    async def reply(self, timeout: float = 2.0) -> bytes:
        return await asyncio.wait_for(self.received.get(), timeout)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_probe(host: str, port: int) -> Probe:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.connect((host, port))
    loop = asyncio.get_running_loop()
    _, probe = await loop.create_datagram_endpoint(lambda: Probe(sock), sock=sock)
    return probe


def udp_addr(server: NTPServer) -> tuple[str, int]:
    host, port = server.endpoints["udp"].rsplit(":", 1)
    return host, int(port)


def near(sample: Sample, expected: float) -> bool:
    """Whether ``expected`` lies within what the sample can resolve: θ ± δ/2.

    Timestamps bracket the real events, so the true offset is always inside that
    interval, however loaded the machine; a fixed tolerance would not be.
    """
    return abs(sample.offset - expected) <= max(sample.delay, 0.0) / 2 + 1e-5


eventually = functools.partial(polling.eventually, timeout=3.0, interval=0.005)
"""Poll ``check`` until it holds or the deadline passes (never a fixed sleep)."""


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
async def server(registry: CollectorRegistry) -> AsyncIterator[NTPServer]:
    async with NTPServer(registry=registry, name="ntp-test") as started:
        yield started


@pytest.fixture
async def probe(server: NTPServer) -> AsyncIterator[Probe]:
    opened = await open_probe(*udp_addr(server))
    yield opened
    opened.close()
