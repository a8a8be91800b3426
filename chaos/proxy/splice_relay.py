"""The TCP fast path: both directions of a connection whose link has no toxic, by splice(2).

    client ══▶ splice ─▶ pipe ─▶ splice ══▶ upstream
           ◀══ splice ◀─ pipe ◀─ splice ◀══

The bytes never enter Python: the kernel moves page references from a socket
into a pipe and from the pipe into the other socket, so a read costs two
syscalls and no copy through user space. A direction reads only while its pipe
is empty; when the destination is full it waits for it to drain (flow control
is the destination's send buffer, as with transports).

``stop`` ends the relay at once and hands back, per direction, what was read
but not yet sent, so the toxic pipelines that take the connection over send it
first: no byte is lost or reordered. End of stream from one side half-closes
the other (``shutdown(SHUT_WR)``), as the pipelines do.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
from collections.abc import Callable

from chaos.proxy.stats import LinkStats
from chaos.proxy.stream import Direction

__all__ = ["AVAILABLE", "PIPE_SIZE", "SpliceRelay"]

AVAILABLE = hasattr(os, "splice")
"""Linux only; elsewhere every connection takes the pipelines."""

PIPE_SIZE = 1024 * 1024
"""Bytes a pipe holds, and the most one splice moves (Linux's unprivileged maximum)."""

_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)


class SpliceRelay:
    """Owns two pipes and the loop's interest in both sockets; never closes the sockets.

    ``on_end(None)`` once both directions have ended normally; ``on_end(exc)``
    at the first socket error (the connection then aborts, as it does when a
    transport fails).
    """

    def __init__(
        self,
        client: socket.socket,
        upstream: socket.socket,
        *,
        stats: LinkStats,
        on_end: Callable[[OSError | None], None],
    ) -> None:
        loop = asyncio.get_running_loop()
        self._on_end = on_end
        self._flows: list[_Flow] = []
        self._stopped = False
        try:
            for direction, source, dest in (
                (Direction.UPSTREAM, client, upstream),
                (Direction.DOWNSTREAM, upstream, client),
            ):
                self._flows.append(_Flow(self, loop, source, dest, direction, stats))
        except BaseException:
            self.stop()
            raise

    def start(self) -> None:
        for flow in self._flows:
            flow.start()

    def stop(self) -> tuple[bytes, bytes]:
        """Stop moving bytes; returns the bytes held (read, not sent) per direction."""
        self._stopped = True
        held = [b"", b""]
        for flow in self._flows:
            held[flow.direction] = flow.stop()
        return held[0], held[1]

    @property
    def ended(self) -> set[Direction]:
        """Directions whose end of stream has been passed on (and the other side half-closed)."""
        return {flow.direction for flow in self._flows if flow.done}

    def flow_done(self) -> None:
        if all(flow.done for flow in self._flows):
            self._finish(None)

    def failed(self, exc: OSError) -> None:
        self._finish(exc)

    def _finish(self, exc: OSError | None) -> None:
        if not self._stopped:
            self.stop()
            self._on_end(exc)


class _Flow:
    """One direction: source socket → pipe → destination socket."""

    __slots__ = (
        "_relay",
        "_loop",
        "_source",
        "_dest",
        "_src",
        "_dst",
        "_read_end",
        "_write_end",
        "direction",
        "_received",
        "_sent",
        "_held",
        "_reading",
        "_writing",
        "_eof",
        "done",
    )

    def __init__(
        self,
        relay: SpliceRelay,
        loop: asyncio.AbstractEventLoop,
        source: socket.socket,
        dest: socket.socket,
        direction: Direction,
        stats: LinkStats,
    ) -> None:
        self._relay = relay
        self._loop = loop
        self._source, self._dest = source, dest
        self._src, self._dst = source.fileno(), dest.fileno()
        self._read_end, self._write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        with contextlib.suppress(OSError):
            fcntl.fcntl(self._write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        self.direction = direction
        self._received = stats.received
        self._sent = stats.bytes
        self._held = 0
        self._reading = self._writing = False
        self._eof = False
        self.done = False

    def start(self) -> None:
        self._loop.add_reader(self._src, self._readable)
        self._reading = True

    def stop(self) -> bytes:
        """Forget the sockets, empty and close the pipe; returns what it held."""
        if self._read_end < 0:
            return b""
        self._set_reading(False)
        self._set_writing(False)
        held = bytearray()
        while len(held) < self._held:
            try:
                more = os.read(self._read_end, self._held - len(held))
            except BlockingIOError:
                break
            if not more:
                break
            held += more
        os.close(self._read_end)
        os.close(self._write_end)
        self._read_end = self._write_end = -1
        return bytes(held)

    def _readable(self) -> None:
        splice, direction = os.splice, self.direction
        try:
            n = splice(self._src, self._write_end, PIPE_SIZE, flags=_FLAGS)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._relay.failed(exc)
            return
        if n == 0:
            self._eof = True
            self._set_reading(False)
            self._drain()
            return
        self._received[direction] += n
        try:
            sent = splice(self._read_end, self._dst, n, flags=_FLAGS)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self._held = n
            self._relay.failed(exc)
            return
        self._sent[direction] += sent
        if sent < n:
            self._held = n - sent
            self._drain()

    def _writable(self) -> None:
        self._drain()

    def _drain(self) -> None:
        held = self._held
        while held:
            try:
                n = os.splice(self._read_end, self._dst, held, flags=_FLAGS)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._held = held
                self._relay.failed(exc)
                return
            held -= n
            self._sent[self.direction] += n
        self._held = held
        if held:
            self._set_reading(False)
            self._set_writing(True)
            return
        self._set_writing(False)
        if not self._eof:
            self._set_reading(True)
        elif not self.done:
            self.done = True
            with contextlib.suppress(OSError):
                self._dest.shutdown(socket.SHUT_WR)
            self._relay.flow_done()

    def _set_reading(self, on: bool) -> None:
        if on == self._reading:
            return
        self._reading = on
        if on:
            self._loop.add_reader(self._src, self._readable)
        else:
            self._loop.remove_reader(self._src)

    def _set_writing(self, on: bool) -> None:
        if on == self._writing:
            return
        self._writing = on
        if on:
            self._loop.add_writer(self._dst, self._writable)
        else:
            self._loop.remove_writer(self._dst)
