"""The ``dns`` node: UDP and TCP on one port, plus the admin API, around one zone."""

from __future__ import annotations

import asyncio
import errno
import socket

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.common.address import http_url, join
from services.common.admin_token import protect
from services.common.base import Service
from services.common.http import bind_error, start_site
from services.dns.admin import create_app
from services.dns.handler import DEFAULT_MAX_UDP_PAYLOAD, QueryHandler, Transport
from services.dns.metrics import DNSMetrics
from services.dns.rrl import DEFAULT_BURST, DEFAULT_RATE, DEFAULT_SLIP, ResponseRateLimiter
from services.dns.tcp import TCPProtocol
from services.dns.udp import UDPProtocol
from services.dns.zone import Zone

_EPHEMERAL_ATTEMPTS = 8
_UDP_RECEIVE_BUFFER = 4 * 1024 * 1024
"""Bytes; asked for so bursts queue in the kernel instead of being dropped (capped by
net.core.rmem_max)."""


class DNSServer(Service):
    """Authoritative server for one zone (``mesh.test.`` by default).

    ``port`` is shared by UDP and TCP, as DNS clients expect; 0 picks a free one.
    """

    name = "dns"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 5353,
        admin_host: str = "127.0.0.1",
        admin_port: int = 8053,
        admin_token: str | None = None,
        zone: Zone | None = None,
        registry: CollectorRegistry | None = None,
        max_udp_payload: int = DEFAULT_MAX_UDP_PAYLOAD,
        tcp_idle_timeout: float = 10.0,
        tcp_max_per_client: int = 64,
        rrl_rate: float = DEFAULT_RATE,
        rrl_burst: int = DEFAULT_BURST,
        rrl_slip: int = DEFAULT_SLIP,
    ) -> None:
        self.host = host
        self.port = port
        self.admin_host = admin_host
        self.admin_port = admin_port
        self.admin_token = admin_token
        self.zone = zone if zone is not None else Zone.default()
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = DNSMetrics(self.registry, self.zone)
        self.handler = QueryHandler(self.zone, max_udp_payload=max_udp_payload)
        self.tcp_idle_timeout = tcp_idle_timeout
        self.tcp_max_per_client = tcp_max_per_client
        self.limiter = (
            ResponseRateLimiter(rate=rrl_rate, burst=rrl_burst, slip=rrl_slip)
            if rrl_rate > 0
            else None
        )
        self.metrics.watch(self.handler, self.limiter)
        self._tcp_per_client: dict[str, int] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tcp_connections: set[asyncio.Transport] = set()
        self._admin: web.AppRunner | None = None
        self._bound_port: int | None = None
        self._bound_admin_port: int | None = None

    @property
    def endpoints(self) -> dict[str, str]:
        if self._bound_port is None or self._bound_admin_port is None:
            raise RuntimeError("DNSServer is not started")
        dns_at = join(self.host, self._bound_port)
        return {
            "udp": dns_at,
            "tcp": dns_at,
            "admin": http_url(self.admin_host, self._bound_admin_port),
        }

    async def start(self) -> None:
        if self._udp is not None:
            raise RuntimeError("DNSServer is already started")
        loop = asyncio.get_running_loop()
        udp_sock, tcp_sock = _bind_pair(self.host, self.port)
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: UDPProtocol(
                    self.handler,
                    self.metrics.recorder(Transport.UDP),
                    limiter=self.limiter,
                    metrics=self.metrics,
                ),
                sock=udp_sock,
            )
            self._udp = transport
            self._tcp = await loop.create_server(
                lambda: TCPProtocol(
                    self.handler,
                    self.metrics.recorder(Transport.TCP),
                    idle_timeout=self.tcp_idle_timeout,
                    connections=self._tcp_connections,
                    per_client=self._tcp_per_client,
                    max_per_client=self.tcp_max_per_client,
                    metrics=self.metrics,
                ),
                sock=tcp_sock,
            )
            self._bound_port = int(udp_sock.getsockname()[1])
            self._admin, self._bound_admin_port = await start_site(
                protect(
                    create_app(self.zone, self.registry),
                    token=self.admin_token,
                    host=self.admin_host,
                ),
                self.admin_host,
                self.admin_port,
                what="DNS admin API",
            )
        except BaseException:
            if self._udp is None:
                udp_sock.close()
            if self._tcp is None:
                tcp_sock.close()
            await self.stop()
            raise

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            for connection in list(self._tcp_connections):
                connection.close()
            await self._tcp.wait_closed()
            self._tcp = None
        if self._admin is not None:
            await self._admin.cleanup()
            self._admin = None
        self._bound_port = None
        self._bound_admin_port = None


def _bind_pair(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    """Bind UDP first, then TCP on the port UDP got.

    With port 0 the kernel picks a UDP port whose TCP twin may be taken; another
    pick is then fine, since the caller asked for any port.
    """
    try:
        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE
        )[0]
    except OSError as exc:
        raise bind_error("DNS", host, port, exc) from exc
    for attempt in range(_EPHEMERAL_ATTEMPTS if port == 0 else 1):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            udp.bind(address)
        except OSError as exc:
            udp.close()
            raise bind_error("DNS over UDP", host, port, exc) from exc
        bound = int(udp.getsockname()[1])
        tcp = socket.socket(family, socket.SOCK_STREAM)
        try:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((address[0], bound, *address[2:]))
            tcp.listen(128)
        except OSError as exc:
            tcp.close()
            udp.close()
            if port == 0 and exc.errno == errno.EADDRINUSE and attempt + 1 < _EPHEMERAL_ATTEMPTS:
                continue
            raise bind_error("DNS over TCP", host, bound, exc) from exc
        try:
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _UDP_RECEIVE_BUFFER)
        except OSError:
            pass
        udp.setblocking(False)
        tcp.setblocking(False)
        return udp, tcp
    raise AssertionError("unreachable")
