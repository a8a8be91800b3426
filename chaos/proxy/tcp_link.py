"""The TCP side of a link: a listener, and a ``Connection`` per accepted client.

    client ══▶ [_Endpoint] ─ Pipeline(upstream) ─▶ [_Endpoint] ══▶ upstream server
           ◀══             ◀─ Pipeline(downstream) ─             ◀══

Accepting pauses the client socket until the upstream connection is up, so no
byte arrives before there is somewhere to put it. Changing the upstream closes
the live connections, as Toxiproxy does, so clients with a connection pool
reconnect, and reach the new upstream at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from typing import cast

from chaos.proxy import address
from chaos.proxy.clock import Clock
from chaos.proxy.pipeline import Ending, Pipeline
from chaos.proxy.stats import LinkStats
from chaos.proxy.stream import Direction, NetProtocol
from chaos.proxy.toxic_collection import ToxicCollection

__all__ = ["Connection", "TcpLink"]

log = logging.getLogger(__name__)

_LINGER_ZERO = struct.pack("ii", 1, 0)


class TcpLink:
    """Listener plus live connections of one TCP link."""

    def __init__(
        self, name: str, *, toxics: ToxicCollection, stats: LinkStats, clock: Clock
    ) -> None:
        self.name = name
        self.toxics = toxics
        self.stats = stats
        self.clock = clock
        self.upstream = ""
        self.connections: set[Connection] = set()
        self._server: asyncio.Server | None = None

    async def start(self, listen: str, upstream: str) -> str:
        """Listen; returns the address actually bound (port 0 resolved)."""
        sock = address.bind(NetProtocol.TCP, listen)
        self.upstream = upstream
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(lambda: _Endpoint(self), sock=sock)
        except BaseException:
            sock.close()
            raise
        host, port = sock.getsockname()[:2]
        return address.join(host, port)

    async def stop(self) -> None:
        """Close the listener and every connection (the link is disabled or deleted)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self.drop_connections()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)

    def set_upstream(self, upstream: str) -> None:
        self.upstream = upstream
        self.drop_connections()

    def drop_connections(self) -> None:
        for connection in list(self.connections):
            connection.abort()


class Connection:
    """One client and its upstream, joined by two pipelines."""

    def __init__(self, link: TcpLink, client: _Endpoint) -> None:
        self.link = link
        self.client = client
        self.upstream: _Endpoint | None = None
        self.pipelines: list[Pipeline] = []
        self._ended: set[Direction] = set()
        self._torn_down = False
        link.connections.add(self)
        link.stats.connections += 1
        link.stats.active += 1

    async def open(self, upstream: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            host, port = address.split(upstream, default_host="localhost")
            _, endpoint = await loop.create_connection(
                lambda: _Endpoint(self.link, self), host, port
            )
        except (OSError, ValueError) as exc:
            log.info("link %s: cannot reach upstream %s: %s", self.link.name, upstream, exc)
            self.link.stats.upstream_errors += 1
            self.close()
            return
        self.upstream = endpoint
        client_transport, upstream_transport = self.client.transport, endpoint.transport
        if self._torn_down or client_transport is None or upstream_transport is None:
            endpoint.abort()
            return
        toxics, clock, stats = self.link.toxics, self.link.clock, self.link.stats
        up = Pipeline(
            Direction.UPSTREAM,
            client_transport,
            upstream_transport,
            owner=self,
            clock=clock,
            stats=stats,
        )
        down = Pipeline(
            Direction.DOWNSTREAM,
            upstream_transport,
            client_transport,
            owner=self,
            clock=clock,
            stats=stats,
        )
        self.pipelines = [up, down]
        toxics.attach(up)
        toxics.attach(down)
        self.client.attach(up, down)
        endpoint.attach(down, up)

    def pipeline_ended(self, pipeline: Pipeline, how: Ending) -> None:
        if how is Ending.RESET:
            self.abort(reset=True)
        elif how is Ending.CLOSE:
            self.close()
        else:
            self._ended.add(pipeline.direction)
            dest = self.upstream if pipeline.direction is Direction.UPSTREAM else self.client
            if dest is not None:
                dest.write_eof()
            if len(self._ended) == 2:
                self.close()

    def close(self) -> None:
        """Orderly: buffered data is written, then FIN."""
        for endpoint in self._endpoints():
            endpoint.close()
        self._teardown()

    def abort(self, *, reset: bool = False) -> None:
        """At once, buffered data discarded; with ``reset``, an RST to both peers."""
        for endpoint in self._endpoints():
            endpoint.abort(reset=reset)
        self._teardown()

    def lost(self, endpoint: _Endpoint, exc: Exception | None) -> None:
        """One socket is gone: an error takes the other down at once, a close closes it."""
        if exc is None:
            self.close()
        else:
            self.abort()

    def _endpoints(self) -> list[_Endpoint]:
        return [e for e in (self.client, self.upstream) if e is not None]

    def _teardown(self) -> None:
        if self._torn_down:
            return
        self._torn_down = True
        for pipeline in self.pipelines:
            self.link.toxics.detach(pipeline)
            pipeline.close()
        self.link.connections.discard(self)
        self.link.stats.active -= 1


class _Endpoint(asyncio.Protocol):
    """One socket of a connection: its reads feed one pipeline, its writes drain the other."""

    def __init__(self, link: TcpLink, connection: Connection | None = None) -> None:
        self.link = link
        self.connection = connection
        self.transport: asyncio.Transport | None = None
        self.source_of: Pipeline | None = None
        self.dest_of: Pipeline | None = None
        self._early: list[bytes | None] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.transport = transport
        transport.pause_reading()
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.connection is None:
            self.connection = Connection(self.link, self)
            asyncio.get_running_loop().create_task(self.connection.open(self.link.upstream))

    def data_received(self, data: bytes) -> None:
        if self.source_of is not None:
            self.source_of.feed(data)
        else:
            self._early.append(data)

    def eof_received(self) -> bool:
        if self.source_of is not None:
            self.source_of.feed_eof()
        else:
            self._early.append(None)
        return True

    def attach(self, source_of: Pipeline, dest_of: Pipeline) -> None:
        """Join the pipelines and start reading, passing on what arrived before them.

        uvloop starts reading after ``connection_made`` even when the protocol
        paused there, so early bytes are kept rather than trusted not to come.
        """
        self.source_of, self.dest_of = source_of, dest_of
        early, self._early = self._early, []
        for data in early:
            if data is None:
                source_of.feed_eof()
            else:
                source_of.feed(data)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def pause_writing(self) -> None:
        if self.dest_of is not None:
            self.dest_of.dest_paused(True)

    def resume_writing(self) -> None:
        if self.dest_of is not None:
            self.dest_of.dest_paused(False)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.connection is not None:
            self.connection.lost(self, exc)

    def write_eof(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing() and transport.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                transport.write_eof()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self, *, reset: bool = False) -> None:
        transport = self.transport
        if transport is None:
            return
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
        transport.abort()
