"""The UDP side of a link: a NAT-like table of sessions, one upstream socket per client.

    client A ─▶ ┌──────────┐ ── session A: socket ⇄ upstream
    client B ─▶ │ listener │ ── session B: socket ⇄ upstream
                └──────────┘ ◀─ replies go back out of the listener to A or B

A datagram is one chunk. Without toxics it is sent on at once; with toxics it
goes through each toxic's ``datagram()`` in chain order, which may drop it,
delay it, change it or multiply it, and what comes out is sent (or scheduled)
as separate datagrams. A session is forgotten after ``idle_timeout`` seconds
(up to twice that) without traffic either way, or when the table is full and it
is the oldest; its upstream socket is then closed, and late replies are lost.

Toxicity is drawn per session per toxic (Toxiproxy draws it per connection);
toxics that drop per datagram (``loss``) have their own ``probability``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
from collections.abc import Callable
from typing import Any, cast

from chaos.proxy import address
from chaos.proxy.clock import Clock
from chaos.proxy.stats import LinkStats
from chaos.proxy.stream import Direction, NetProtocol
from chaos.proxy.toxic_collection import ToxicCollection
from chaos.proxy.toxics.base import DatagramContext, UdpToxic
from chaos.proxy.wrapper import ToxicWrapper

__all__ = ["UdpLink"]

log = logging.getLogger(__name__)

Address = tuple[Any, ...]

DEFAULT_IDLE_TIMEOUT = 60.0
"""Seconds; in the range NATs and conntrack use for UDP."""
DEFAULT_MAX_SESSIONS = 4096
"""Sessions (one socket each) before the oldest is dropped."""


class UdpLink:
    """Listener and session table of one UDP link."""

    def __init__(
        self,
        name: str,
        *,
        toxics: ToxicCollection,
        stats: LinkStats,
        clock: Clock,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
    ) -> None:
        self.name = name
        self.toxics = toxics
        self.stats = stats
        self.clock = clock
        self.idle_timeout = idle_timeout
        self.max_sessions = max_sessions
        self.upstream = ""
        self._resolved: tuple[int, Address] | None = None
        self._sessions: dict[Address, _Session] = {}
        self._listener: asyncio.DatagramTransport | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, listen: str, upstream: str) -> str:
        sock = address.bind(NetProtocol.UDP, listen)
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(lambda: _Listener(self), sock=sock)
        except BaseException:
            sock.close()
            raise
        self._listener = transport
        self.upstream, self._resolved = upstream, None
        self._sweeper = loop.create_task(self._sweep())
        host, port = sock.getsockname()[:2]
        return address.join(host, port)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self.drop_sessions()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def set_upstream(self, upstream: str) -> None:
        self.upstream, self._resolved = upstream, None
        self.drop_sessions()

    def drop_sessions(self) -> None:
        for session in list(self._sessions.values()):
            session.close()

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    # -- datagrams -------------------------------------------------------------

    def from_client(self, data: bytes, client: Address) -> None:
        self.stats.received[Direction.UPSTREAM] += len(data)
        session = self._sessions.get(client)
        if session is None:
            session = self._open(client)
        session.touched = True
        stages = session.stages(Direction.UPSTREAM)
        if stages:
            self._through(stages, data, session.send_up)
        else:
            session.send_up(data)

    def from_upstream(self, session: _Session, data: bytes) -> None:
        self.stats.received[Direction.DOWNSTREAM] += len(data)
        session.touched = True
        stages = session.stages(Direction.DOWNSTREAM)
        if stages:
            self._through(stages, data, session.send_down)
        else:
            session.send_down(data)

    def send_to_client(self, data: bytes, client: Address) -> None:
        listener = self._listener
        if listener is not None and not listener.is_closing():
            listener.sendto(data, client)
            stats = self.stats
            stats.datagrams[Direction.DOWNSTREAM] += 1
            stats.bytes[Direction.DOWNSTREAM] += len(data)

    def _through(self, stages: list[_Stage], data: bytes, send: Callable[[bytes], None]) -> None:
        now = self.clock.now()
        items: list[tuple[float, bytes]] = [(0.0, data)]
        for stage in stages:
            produced: list[tuple[float, bytes]] = []
            for delay, payload in items:
                stage.context.now = now + delay
                out = stage.toxic.datagram(payload, stage.context)
                if not out:
                    dropped = self.stats.dropped
                    dropped[stage.type] = dropped.get(stage.type, 0) + 1
                produced.extend((delay + extra, result) for extra, result in out)
            items = produced
            if not items:
                return
        for delay, payload in items:
            if delay <= 0:
                send(payload)
            else:
                self.clock.call_at(now + delay, functools.partial(send, payload))

    # -- sessions --------------------------------------------------------------

    def _open(self, client: Address) -> _Session:
        if len(self._sessions) >= self.max_sessions:
            self._sessions[next(iter(self._sessions))].close()
        session = _Session(self, client)
        self._sessions[client] = session
        self.stats.connections += 1
        self.stats.active += 1
        asyncio.get_running_loop().create_task(self._connect(session))
        return session

    def _forget(self, session: _Session) -> None:
        if self._sessions.get(session.client) is session:
            del self._sessions[session.client]
            self.stats.active -= 1

    async def _connect(self, session: _Session) -> None:
        loop = asyncio.get_running_loop()
        sock: socket.socket | None = None
        try:
            family, target = await self._resolve()
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.connect(target)
            await loop.create_datagram_endpoint(lambda: session, sock=sock)
        except (OSError, ValueError) as exc:
            if sock is not None:
                sock.close()
            log.info("link %s: cannot reach upstream %s: %s", self.name, self.upstream, exc)
            self.stats.upstream_errors += 1
            session.close()

    async def _resolve(self) -> tuple[int, Address]:
        if self._resolved is None:
            host, port = address.split(self.upstream, default_host="localhost")
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
            if not infos:
                raise OSError(f"cannot resolve {host}")
            family, _, _, _, target = infos[0]
            self._resolved = (family, target)
        return self._resolved

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.idle_timeout)
            for session in list(self._sessions.values()):
                if session.touched:
                    session.touched = False
                else:
                    session.close()


class _Stage:
    """One active toxic in one session's chain, with its per-session context."""

    __slots__ = ("toxic", "type", "context", "generation", "active")

    def __init__(self, wrapper: ToxicWrapper, state: object, direction: Direction) -> None:
        assert isinstance(wrapper.toxic, UdpToxic), wrapper.type
        self.toxic: UdpToxic = wrapper.toxic
        self.type = wrapper.type
        self.context = DatagramContext(0.0, wrapper.rng, state, direction)
        self.generation = wrapper.generation
        self.active = wrapper.draw()


class _Session(asyncio.DatagramProtocol):
    """One client address and the upstream socket that speaks for it."""

    def __init__(self, link: UdpLink, client: Address) -> None:
        self.link = link
        self.client = client
        self.touched = True
        self.transport: asyncio.DatagramTransport | None = None
        self._pending: list[bytes] | None = []
        self._closed = False
        self._version = -1
        self._all: dict[ToxicWrapper, _Stage] = {}
        self._chains: tuple[list[_Stage], list[_Stage]] = ([], [])

    def stages(self, direction: Direction) -> list[_Stage]:
        if self._version != self.link.toxics.version:
            self._rebuild()
        return self._chains[direction]

    def _rebuild(self) -> None:
        toxics = self.link.toxics
        known, self._all = self._all, {}
        for direction in Direction:
            chain = self._chains[direction]
            chain.clear()
            for wrapper in toxics.chain(direction):
                stage = known.get(wrapper)
                if stage is None:
                    stage = _Stage(wrapper, wrapper.new_state(), direction)
                elif stage.generation != wrapper.generation:
                    stage = _Stage(wrapper, stage.context.state, direction)
                self._all[wrapper] = stage
                if stage.active:
                    chain.append(stage)
        self._version = toxics.version

    def send_up(self, data: bytes) -> None:
        transport = self.transport
        if transport is None:
            if self._pending is not None:
                self._pending.append(data)
            return
        if not transport.is_closing():
            transport.sendto(data)
            stats = self.link.stats
            stats.datagrams[Direction.UPSTREAM] += 1
            stats.bytes[Direction.UPSTREAM] += len(data)

    def send_down(self, data: bytes) -> None:
        self.link.send_to_client(data, self.client)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pending = None
        self.link._forget(self)
        if self.transport is not None:
            self.transport.close()

    # -- asyncio.DatagramProtocol --------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.DatagramTransport, transport)  # uvloop's are not subclasses
        self.transport = transport
        if self._closed:
            transport.close()
            return
        pending, self._pending = self._pending or [], None
        for data in pending:
            self.send_up(data)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if not self._closed:
            self.link.from_upstream(self, data)

    def error_received(self, exc: Exception) -> None:
        """ICMP port unreachable and the like: the upstream is down; UDP carries on."""

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, link: UdpLink) -> None:
        self.link = link

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.link.from_client(data, addr)

    def error_received(self, exc: Exception) -> None:
        """A client went away (ICMP unreachable on a reply); nothing to do."""

    def connection_lost(self, exc: Exception | None) -> None:
        with contextlib.suppress(Exception):
            self.link.drop_sessions()
