"""The TCP side of a link: a listener, and a ``Connection`` per accepted client.

While the link has no toxic, a connection is relayed in the kernel (the fast path)::

    client ══▶ SpliceRelay (splice_relay.py) ══▶ upstream server
           ◀══                                ◀══

With toxics, or once one is added to its link, the sockets become transports
joined by the toxic pipelines (what the relay still held goes first)::

    client ══▶ [_Endpoint] ─ Pipeline(upstream) ─▶ [_Endpoint] ══▶ upstream server
           ◀══             ◀─ Pipeline(downstream) ─             ◀══

An HTTP toxic on the link puts ``chaos.proxy.http``'s relay between the
pipelines and the upstream socket (see that package). A connection never goes
back to the fast path, nor drops its HTTP relay. Nothing is read from the client
before the upstream connection is up, so no byte arrives before there is
somewhere to put it. Changing the upstream closes the live connections, as
Toxiproxy does, so clients with a connection pool reconnect, and reach the new
upstream at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from typing import Any, Protocol, cast

from chaos.proxy import address, splice_relay
from chaos.proxy.clock import Clock
from chaos.proxy.http.relay import HttpRelay
from chaos.proxy.pipeline import Ending, Pipeline
from chaos.proxy.splice_relay import SpliceRelay
from chaos.proxy.stats import LinkStats
from chaos.proxy.stream import Direction, NetProtocol
from chaos.proxy.toxic_collection import ToxicCollection
from chaos.proxy.wrapper import ToxicWrapper

__all__ = ["Connection", "TcpLink"]

log = logging.getLogger(__name__)

_LINGER_ZERO = struct.pack("ii", 1, 0)
_ACCEPT_BATCH = 128
"""Connections accepted per readiness callback at most, so a flood cannot starve the loop."""
_ACCEPT_RETRY = 1.0
"""Seconds before accepting again after running out of file descriptors (asyncio's delay)."""


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
        self._listener: socket.socket | None = None
        self._retry: asyncio.TimerHandle | None = None

    async def start(self, listen: str, upstream: str) -> str:
        """Listen; returns the address actually bound (port 0 resolved)."""
        sock = address.bind(NetProtocol.TCP, listen)
        self.upstream = upstream
        try:
            asyncio.get_running_loop().add_reader(sock.fileno(), self._accept)
        except BaseException:
            sock.close()
            raise
        self._listener = sock
        host, port = sock.getsockname()[:2]
        return address.join(host, port)

    async def stop(self) -> None:
        """Close the listener and every connection (the link is disabled or deleted)."""
        sock, self._listener = self._listener, None
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if sock is not None:
            asyncio.get_running_loop().remove_reader(sock.fileno())
            sock.close()
        self.drop_connections()

    def set_upstream(self, upstream: str) -> None:
        self.upstream = upstream
        self.drop_connections()

    def drop_connections(self) -> None:
        for connection in list(self.connections):
            connection.abort()

    def _accept(self) -> None:
        listener = self._listener
        for _ in range(_ACCEPT_BATCH):
            if listener is None:
                return
            try:
                client, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("link %s: accept failed: %s; retrying in 1 s", self.name, exc)
                loop = asyncio.get_running_loop()
                loop.remove_reader(listener.fileno())
                self._retry = loop.call_later(_ACCEPT_RETRY, self._resume_accepting)
                return
            client.setblocking(False)
            _no_delay(client)
            Connection(self, client).start()

    def _resume_accepting(self) -> None:
        self._retry = None
        if self._listener is not None:
            asyncio.get_running_loop().add_reader(self._listener.fileno(), self._accept)


class Connection:
    """One client and its upstream: on the fast path, or joined by two pipelines."""

    def __init__(self, link: TcpLink, client: socket.socket) -> None:
        self.link = link
        self.client: _Endpoint | None = None
        self.upstream: _Endpoint | None = None
        self.pipelines: list[Pipeline] = []
        self.relay: SpliceRelay | None = None
        self.http: HttpRelay | None = None
        self._joined = False
        """Both pipelines run: an HTTP relay can step in between them and the upstream."""
        self._sockets: list[socket.socket] = [client]
        self._watches: list[_Watch] = []
        self._task: asyncio.Task[None] | None = None
        self._ended: set[Direction] = set()
        self._torn_down = False
        link.connections.add(self)
        link.stats.connections += 1
        link.stats.active += 1

    @property
    def fast(self) -> bool:
        """True while the splice relay carries the connection."""
        return self.relay is not None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._open(self.link.upstream))

    async def _open(self, upstream: str) -> None:
        try:
            sock = await _connect(upstream)
        except (OSError, ValueError) as exc:
            log.info("link %s: cannot reach upstream %s: %s", self.link.name, upstream, exc)
            self.link.stats.upstream_errors += 1
            self.close()
            return
        if self._torn_down:
            sock.close()
            return
        self._sockets.append(sock)
        if splice_relay.AVAILABLE and not len(self.link.toxics):
            client = self._sockets[0]
            try:
                relay = SpliceRelay(client, sock, stats=self.link.stats, on_end=self._relay_ended)
            except OSError as exc:
                log.info("link %s: no fast path for a connection: %s", self.link.name, exc)
            else:
                self.relay = relay
                self._watches = [_Watch(self, direction) for direction in Direction]
                for watch in self._watches:
                    self.link.toxics.attach(watch)
                relay.start()
                return
        await self._join_pipelines((b"", b""), fresh=True)

    def leave_fast_path(self) -> None:
        """A toxic arrived: stop the relay now, and go on through the pipelines."""
        relay, self.relay = self.relay, None
        if relay is None or self._torn_down:
            return
        for watch in self._watches:
            self.link.toxics.detach(watch)
        self._watches = []
        self._ended = relay.ended
        held = relay.stop()
        self._task = asyncio.get_running_loop().create_task(self._join_pipelines(held, fresh=False))

    async def _join_pipelines(self, held: tuple[bytes, bytes], *, fresh: bool) -> None:
        """Wrap both sockets in transports and join them by pipelines, ``held`` bytes first;
        ``fresh``: no byte has passed yet, so an HTTP relay starts in step with the messages.
        """
        loop = asyncio.get_running_loop()
        client_sock, upstream_sock = self._sockets
        self._sockets = [upstream_sock]
        try:
            _, self.client = await loop.connect_accepted_socket(
                lambda: _Endpoint(self), sock=client_sock
            )
        except OSError as exc:
            log.info("link %s: cannot take over a connection: %s", self.link.name, exc)
            client_sock.close()
            self.abort()
            return
        self._sockets = []
        if self._torn_down:
            self.client.abort()
            upstream_sock.close()
            return
        try:
            _, self.upstream = await loop.create_connection(
                lambda: _Endpoint(self), sock=upstream_sock
            )
        except OSError as exc:
            log.info("link %s: cannot take over a connection: %s", self.link.name, exc)
            upstream_sock.close()
            self.abort()
            return
        client_transport, upstream_transport = self.client.transport, self.upstream.transport
        if self._torn_down or client_transport is None or upstream_transport is None:
            self.abort()
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
        upstream = self.upstream
        http = self._http_relay(upstream, in_step=fresh)
        up.carry(held[Direction.UPSTREAM])
        down.carry(held[Direction.DOWNSTREAM])
        self.client.attach(up, down)
        upstream.attach(http or down, http or up)
        self._joined = True
        if http is not None:
            http.start()

    def http_arrived(self) -> None:
        """The link's first HTTP toxic reached a connection already under way."""
        upstream = self.upstream
        if self.http is not None or self._torn_down or upstream is None or not self._joined:
            return
        relay = self._http_relay(upstream, in_step=False)
        if relay is not None:
            upstream.source_of = relay
            upstream.dest_of = relay
            relay.start()

    def _http_relay(self, upstream: _Endpoint, *, in_step: bool) -> HttpRelay | None:
        """Put the HTTP relay between the pipelines and the upstream socket, when the link
        has an HTTP toxic; ``in_step`` when no byte has passed, so the next ones start a request.
        """
        transport = upstream.transport
        if transport is None or not self.link.toxics.http():
            return None
        up, down = self.pipelines
        relay = HttpRelay(
            self.link.name,
            self.link.toxics,
            send_upstream=transport.write,
            upstream_eof=upstream.write_eof,
            pause_upstream=upstream.pause,
            up=up,
            down=down,
            abort=self.abort,
            in_step=in_step,
        )
        self.http = relay
        up.retarget(dest=relay)
        down.retarget(source=relay)
        return relay

    def pipeline_ended(self, pipeline: Pipeline, how: Ending) -> None:
        if how is Ending.RESET:
            self.abort(reset=True)
        elif how is Ending.CLOSE:
            self.close()
        else:
            if pipeline.direction not in self._ended:
                self._ended.add(pipeline.direction)
                dest = self.upstream if pipeline.direction is Direction.UPSTREAM else self.client
                if dest is self.upstream and self.http is not None:
                    self.http.write_eof()
                elif dest is not None:
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

    def _relay_ended(self, exc: OSError | None) -> None:
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
        relay, self.relay = self.relay, None
        if relay is not None:
            relay.stop()
        for watch in self._watches:
            self.link.toxics.detach(watch)
        for sock in self._sockets:
            sock.close()
        self._sockets = []
        for pipeline in self.pipelines:
            self.link.toxics.detach(pipeline)
            pipeline.close()
        if self.http is not None:
            self.http.close()
        self.link.connections.discard(self)
        self.link.stats.active -= 1


class _Watch:
    """Stands in for a pipeline in the toxic collection while the connection is on the fast path."""

    __slots__ = ("direction", "_connection")

    def __init__(self, connection: Connection, direction: Direction) -> None:
        self.direction = direction
        self._connection = connection

    def add_toxic(self, toxic: ToxicWrapper) -> None:
        self._connection.leave_fast_path()

    async def update_toxic(self, toxic: ToxicWrapper) -> None:
        """The fast path has no toxic to update."""

    async def remove_toxic(self, toxic: ToxicWrapper) -> None:
        """The fast path has no toxic to remove."""


class _Feed(Protocol):
    """What a socket's reads go to: a pipeline, or the HTTP relay."""

    def feed(self, data: bytes) -> None: ...

    def feed_eof(self) -> None: ...


class _Drain(Protocol):
    """Who is told that a socket's write buffer is full: a pipeline, or the HTTP relay."""

    def dest_paused(self, paused: bool) -> None: ...


class _Endpoint(asyncio.Protocol):
    """One socket of a connection: its reads feed one pipeline, its writes drain the other."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.transport: asyncio.Transport | None = None
        self.source_of: _Feed | None = None
        self.dest_of: _Drain | None = None
        self._early: list[bytes | None] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.transport = transport
        transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        if self.source_of is not None:
            self.source_of.feed(data)
        else:
            self._early.append(data)
            self.pause(True)

    def eof_received(self) -> bool:
        if self.source_of is not None:
            self.source_of.feed_eof()
        else:
            self._early.append(None)
        return True

    def attach(self, source_of: _Feed, dest_of: _Drain) -> None:
        """Join the pipelines and start reading, passing on what arrived before them.

        uvloop starts reading after ``connection_made`` even when the protocol
        paused there, so early bytes are kept (and reading paused again at the
        first of them) rather than trusted not to come.
        Reading resumes before they are passed on: when they fill what they go
        to, its pause must be the last word, or the socket is read without bound.
        """
        self.source_of, self.dest_of = source_of, dest_of
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
        early, self._early = self._early, []
        for data in early:
            if data is None:
                source_of.feed_eof()
            else:
                source_of.feed(data)

    def pause(self, paused: bool) -> None:
        """Stop or go on reading from the socket."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if paused:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def pause_writing(self) -> None:
        if self.dest_of is not None:
            self.dest_of.dest_paused(True)

    def resume_writing(self) -> None:
        if self.dest_of is not None:
            self.dest_of.dest_paused(False)

    def connection_lost(self, exc: Exception | None) -> None:
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


async def _connect(upstream: str) -> socket.socket:
    """A connected non-blocking socket to ``upstream``, each resolved address tried in turn."""
    host, port = address.split(upstream, default_host="localhost")
    loop = asyncio.get_running_loop()
    infos = _numeric(host, port) or await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError = OSError(f"cannot resolve {host}")
    for family, kind, proto, _, target in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, target)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        _no_delay(sock)
        return sock
    raise error


def _numeric(host: str, port: int) -> list[tuple[int, int, int, str, Any]] | None:
    """The address of an IP literal without a resolver round trip (``getaddrinfo`` is a thread)."""
    for family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            socket.inet_pton(family, host)
            target = (host, port) if family == socket.AF_INET else (host, port, 0, 0)
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", target)]
    return None


def _no_delay(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
