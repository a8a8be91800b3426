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

The sockets are the loop's readers, not transports: one readiness callback
reads what waits with ``recvmmsg`` (``mmsg.py``; up to 32 datagrams a call) and
sends each run of datagrams from one client, or from one upstream, on with one
``sendmmsg``, the bytes never copied into Python while a direction has no
toxic. Without those calls (not Linux) it reads with ``recvfrom`` until the
socket is empty. A send that finds the socket buffer full drops the datagram.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from chaos.proxy import address, mmsg
from chaos.proxy.clock import Clock
from chaos.proxy.stats import LinkStats
from chaos.proxy.stream import Direction, NetProtocol
from chaos.proxy.toxic_collection import ToxicCollection
from chaos.proxy.toxics.base import DatagramContext, UdpToxic
from chaos.proxy.wrapper import ToxicWrapper

__all__ = ["UdpLink"]

log = logging.getLogger(__name__)
RESOLVE_TTL_S = 5.0
"""How long an upstream's name is trusted (an IP literal costs nothing to resolve again)."""

Address = tuple[Any, ...]

DEFAULT_IDLE_TIMEOUT = 60.0
"""Seconds; in the range NATs and conntrack use for UDP."""
DEFAULT_MAX_SESSIONS = 4096
"""Sessions (one socket each) before the oldest is dropped."""
_READS = 8
"""``recvmmsg`` calls (or, without it, ``recvfrom`` calls x 32) per readiness callback."""
_MAX_DATAGRAM = 65536

_batch: mmsg.Batch | None = None


def _shared_batch() -> mmsg.Batch | None:
    """The process's one batch (2 MiB), made on first use; None without ``recvmmsg``."""
    global _batch
    if _batch is None and mmsg.AVAILABLE:
        _batch = mmsg.Batch()
    return _batch


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
        self._resolved_at = 0.0
        self._sessions: dict[Address | bytes, _Session] = {}
        self._listener: socket.socket | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._batch = _shared_batch()

    async def start(self, listen: str, upstream: str) -> str:
        sock = address.bind(NetProtocol.UDP, listen)
        loop = asyncio.get_running_loop()
        try:
            loop.add_reader(sock.fileno(), self._readable)
        except BaseException:
            sock.close()
            raise
        self._listener = sock
        self.upstream, self._resolved = upstream, None
        self._sweeper = loop.create_task(self._sweep())
        host, port = sock.getsockname()[:2]
        return address.join(host, port)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self.drop_sessions()
        sock, self._listener = self._listener, None
        if sock is not None:
            asyncio.get_running_loop().remove_reader(sock.fileno())
            sock.close()

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

    def _readable(self) -> None:
        listener = self._listener
        if listener is None:
            return
        batch = self._batch
        try:
            if batch is None:
                self._read_each(listener)
            else:
                for _ in range(_READS):
                    if (
                        self._listener is None
                        or self._read_batch(batch, listener.fileno()) < mmsg.SLOTS
                    ):
                        return
        except OSError as exc:
            log.debug("link %s: receive failed: %s", self.name, exc)

    def _read_batch(self, batch: mmsg.Batch, fd: int) -> int:
        count = batch.receive(fd, named=True)
        lengths, up = batch.lengths, Direction.UPSTREAM
        stats = self.stats
        stats.received[up] += sum(lengths)
        start = 0
        while start < count:
            key = batch.source(start)
            stop = start + 1
            while stop < count and batch.source(stop) == key:
                stop += 1
            session = self._sessions.get(key)
            if session is None:
                session = self._open(key, mmsg.decode_address(key))
            session.touched = True
            stages = session.stages(up)
            if stages or session.fd < 0:
                for slot in range(start, stop):
                    self._pass_up(session, stages, batch.payload(slot))
            else:
                sent = batch.send(session.fd, start, stop, dest=session.raw_upstream)
                stats.datagrams[up] += sent
                stats.bytes[up] += sum(lengths[start : start + sent])
            start = stop
        return count

    def _read_each(self, listener: socket.socket) -> None:
        for _ in range(_READS * mmsg.SLOTS):
            try:
                data, client = listener.recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            self.stats.received[Direction.UPSTREAM] += len(data)
            session = self._sessions.get(client)
            if session is None:
                session = self._open(client, client)
            session.touched = True
            self._pass_up(session, session.stages(Direction.UPSTREAM), data)

    def _pass_up(self, session: _Session, stages: list[_Stage], data: bytes) -> None:
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

    def upstream_batch(self, session: _Session, batch: mmsg.Batch, count: int) -> None:
        """Datagrams from one session's upstream, in ``batch``: on to its client together."""
        down, stats, lengths = Direction.DOWNSTREAM, self.stats, batch.lengths
        stats.received[down] += sum(lengths)
        session.touched = True
        stages = session.stages(down)
        listener = self._listener
        if stages or listener is None:
            for slot in range(count):
                if stages:
                    self._through(stages, batch.payload(slot), session.send_down)
                else:
                    session.send_down(batch.payload(slot))
            return
        sent = batch.send(listener.fileno(), 0, count, dest=session.raw_client)
        stats.datagrams[down] += sent
        stats.bytes[down] += sum(lengths[:sent])

    def send_to_client(self, data: bytes, client: Address) -> None:
        listener = self._listener
        if listener is not None and _send(listener.sendto, data, client):
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

    def _open(self, key: Address | bytes, client: Address) -> _Session:
        if len(self._sessions) >= self.max_sessions:
            self._sessions[next(iter(self._sessions))].close()
        session = _Session(self, key, client)
        self._sessions[key] = session
        self.stats.connections += 1
        self.stats.active += 1
        session.task = asyncio.get_running_loop().create_task(self._connect(session))
        return session

    def _forget(self, session: _Session) -> None:
        if self._sessions.get(session.key) is session:
            del self._sessions[session.key]
            self.stats.active -= 1

    async def _connect(self, session: _Session) -> None:
        sock: socket.socket | None = None
        try:
            family, target = await self._resolve()
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
        except (OSError, ValueError) as exc:
            if sock is not None:
                sock.close()
            log.info("link %s: cannot reach upstream %s: %s", self.name, self.upstream, exc)
            self.stats.upstream_errors += 1
            session.close()
            return
        session.connected(sock, family, target)

    async def _resolve(self) -> tuple[int, Address]:
        # A name is asked again after a while: the task behind it may have moved.
        if self._resolved is not None and time.monotonic() - self._resolved_at > RESOLVE_TTL_S:
            self._resolved = None
        if self._resolved is None:
            host, port = address.split(self.upstream, default_host="localhost")
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
            if not infos:
                raise OSError(f"cannot resolve {host}")
            family, _, _, _, target = infos[0]
            self._resolved = (family, target)
            self._resolved_at = time.monotonic()
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


class _Session:
    """One client address and the upstream socket that speaks for it."""

    def __init__(self, link: UdpLink, key: Address | bytes, client: Address) -> None:
        self.link = link
        self.key = key
        """How the listener's reads name the client: raw ``sockaddr`` bytes or a tuple."""
        self.client = client
        self.raw_client = key if isinstance(key, bytes) else None
        self.touched = True
        self.sock: socket.socket | None = None
        self.fd = -1
        self.upstream: Address = ()
        self.raw_upstream = b""
        self.task: asyncio.Task[None] | None = None
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

    def connected(self, sock: socket.socket, family: int, upstream: Address) -> None:
        """The upstream socket is ready: read from it, and send what waited for it.

        It is not connected: a connected UDP socket reports the upstream's ICMP
        errors, and libuv (uvloop) stops watching a socket that has one. So the
        upstream's address goes with every send, and answers from anywhere else
        are dropped.
        """
        if self._closed:
            sock.close()
            return
        self.upstream, self.raw_upstream = upstream, mmsg.encode_address(family, upstream)
        self.sock, self.fd = sock, sock.fileno()
        asyncio.get_running_loop().add_reader(self.fd, self._readable)
        pending, self._pending = self._pending or [], None
        for data in pending:
            self.send_up(data)

    def send_up(self, data: bytes) -> None:
        sock = self.sock
        if sock is None:
            if self._pending is not None:
                self._pending.append(data)
            return
        if _send(sock.sendto, data, self.upstream):
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
        sock, self.sock, self.fd = self.sock, None, -1
        if sock is not None:
            asyncio.get_running_loop().remove_reader(sock.fileno())
            sock.close()

    def _readable(self) -> None:
        """Answers from the upstream, a batch at a time; anything from elsewhere is dropped."""
        batch = self.link._batch
        for _ in range(_READS):
            sock = self.sock
            if sock is None:
                return
            try:
                if batch is None:
                    self._read_each(sock)
                    return
                count = batch.receive(self.fd, named=True)
            except OSError as exc:
                log.debug("link %s: receive failed: %s", self.link.name, exc)
                return
            upstream = self.raw_upstream
            if all(batch.source(slot) == upstream for slot in range(count)):
                if count:
                    self.link.upstream_batch(self, batch, count)
            else:
                for slot in range(count):
                    if batch.source(slot) == upstream:
                        self.link.from_upstream(self, batch.payload(slot))
            if count < mmsg.SLOTS:
                return

    def _read_each(self, sock: socket.socket) -> None:
        for _ in range(_READS * mmsg.SLOTS):
            try:
                data, source = sock.recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            if source[:2] == self.upstream[:2] and self.sock is not None:
                self.link.from_upstream(self, data)


def _send(send: Callable[..., int], data: bytes, where: Address) -> bool:
    """One datagram; a full socket buffer drops it, as it would anywhere."""
    try:
        send(data, where)
    except OSError as exc:
        log.debug("datagram to %s dropped: %s", where, exc)
        return False
    return True
