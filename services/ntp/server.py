"""One SNTP node: the UDP socket, the admin API and the metrics, started and stopped together."""

from __future__ import annotations

import asyncio
import socket
from typing import Final

from aiohttp import web
from prometheus_client.registry import CollectorRegistry

from services.common.address import http_url, join
from services.common.admin_token import protect
from services.common.base import Service
from services.common.http import bind_error, start_site
from services.ntp import metrics
from services.ntp.admin import create_app
from services.ntp.clock import Lies, LyingClock, TimeSource
from services.ntp.metrics import Stats
from services.ntp.protocol import SNTPServerProtocol
from services.ntp.ratelimit import DEFAULT_BURST, DEFAULT_RATE, KeyBy, RateLimiter

RECEIVE_BUFFER_BYTES: Final = 4 << 20
"""Room for a burst of ~40k requests while the loop is busy, instead of kernel drops."""


class NTPServer(Service):
    """An SNTPv4 server on UDP plus its admin API (see ``services.ntp.admin``).

    ``lies`` sets the initial claims (truth by default). ``rate_limit`` is the sustained
    requests/s allowed per source and ``burst`` the bucket size; a ``rate_limit`` of 0
    disables kiss-o'-death entirely (benchmarks). ``rate_limit_key`` chooses what a
    "source" is, see ``services.ntp.ratelimit``. ``time_ns`` replaces the host clock.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        admin_host: str = "127.0.0.1",
        admin_port: int = 0,
        admin_token: str | None = None,
        name: str = "ntp",
        registry: CollectorRegistry | None = None,
        lies: Lies | None = None,
        rate_limit: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        rate_limit_key: KeyBy = "host",
        time_ns: TimeSource | None = None,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.admin_host = admin_host
        self.admin_port = admin_port
        self.admin_token = admin_token
        self.registry = registry if registry is not None else CollectorRegistry()
        self.clock = LyingClock(lies) if time_ns is None else LyingClock(lies, time_ns=time_ns)
        self.stats = Stats()
        self.limiter = (
            RateLimiter(rate=rate_limit, burst=burst, key_by=rate_limit_key)
            if rate_limit > 0
            else None
        )
        metrics.register(self.registry, self.stats, self.clock, self.limiter)
        self._transport: asyncio.DatagramTransport | None = None
        self._protocol: SNTPServerProtocol | None = None
        self._runner: web.AppRunner | None = None

    @property
    def endpoints(self) -> dict[str, str]:
        return {
            "udp": join(self.host, self.port),
            "admin": http_url(self.admin_host, self.admin_port),
        }

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        sock = self._bind()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: SNTPServerProtocol(self.clock, self.stats, self.limiter), sock=sock
        )
        self._transport, self._protocol = transport, protocol
        try:
            app = protect(
                create_app(self.clock, self.registry, name=self.name),
                token=self.admin_token,
                host=self.admin_host,
            )
            self._runner, self.admin_port = await start_site(
                app, self.admin_host, self.admin_port, what=f"{self.name} admin API"
            )
        except BaseException:
            await self.stop()
            raise

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
            except OSError:
                pass
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise bind_error(f"{self.name} SNTP (udp)", self.host, self.port, exc) from exc
        sock.setblocking(False)
        self.port = int(sock.getsockname()[1])
        return sock

    async def stop(self) -> None:
        """Close both sockets and wait until they are really closed, so the ports are free."""
        transport, self._transport = self._transport, None
        protocol, self._protocol = self._protocol, None
        runner, self._runner = self._runner, None
        if transport is not None:
            transport.close()
        if runner is not None:
            await runner.cleanup()
        if protocol is not None:
            await protocol.closed.wait()
