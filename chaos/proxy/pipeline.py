"""One direction of one TCP connection: source socket → toxics → destination socket.

Without toxics the pipeline is a plain relay: ``feed`` writes straight to the
destination transport, and flow control is the transports' own (the
destination's ``pause_writing`` pauses reading on the source). With toxics::

    feed ─▶ head ─▶ [stub: latency] ─▶ ch ─▶ [stub: bandwidth] ─▶ tail ─▶ sink task ─▶ dest
             ▲ Channel                                              Channel

A toxic added to a live connection is appended before ``tail``; a removed one is
interrupted (it flushes what it holds), its unread input is appended to its
output and its predecessor rewired past it, so no byte is lost or reordered.
Once the last toxic is gone and ``tail`` is empty, ``feed`` writes directly again.

How a direction ends decides what the peers see: end of stream from the source
→ half-close (``write_eof``); a toxic closing the stream (``limit_data``,
``timeout``) → the connection closes; ``reset_peer`` → both sockets get an RST.

HTTP toxics never enter a pipeline: the first one to reach a connection tells
its owner, which puts ``chaos.proxy.http``'s relay between the pipelines and
the upstream socket (``retarget``).
"""

from __future__ import annotations

import asyncio
import enum
from typing import Protocol

from chaos.proxy.channel import Channel
from chaos.proxy.clock import Clock
from chaos.proxy.stats import LinkStats
from chaos.proxy.stream import Chunk, Direction
from chaos.proxy.stub import Pipe, ToxicStub
from chaos.proxy.toxics.base import Cleanup, TcpToxic
from chaos.proxy.wrapper import ToxicWrapper

__all__ = ["Ending", "Pipeline", "PipelineOwner", "Sink", "Source"]


class Ending(enum.Enum):
    NATURAL = "eof"
    """The source sent FIN and it went through: half-close the destination."""
    CLOSE = "close"
    """A toxic ended the stream early: close the whole connection."""
    RESET = "reset"
    """``reset_peer``: abort both sockets with an RST."""


class PipelineOwner(Protocol):
    def pipeline_ended(self, pipeline: Pipeline, how: Ending) -> None: ...

    def http_arrived(self) -> None:
        """The link has an HTTP toxic now."""


class Source(Protocol):
    """Where a pipeline reads from: a transport, or the HTTP relay."""

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def is_closing(self) -> bool: ...


class Sink(Protocol):
    """Where a pipeline writes to: a transport, or the HTTP relay."""

    def write(self, data: bytes) -> None: ...


class Pipeline:
    """Fast relay by default; a chain of toxic stubs while the link has toxics in this direction."""

    def __init__(
        self,
        direction: Direction,
        source: Source,
        dest: Sink,
        *,
        owner: PipelineOwner,
        clock: Clock,
        stats: LinkStats,
    ) -> None:
        self.direction = direction
        self._source = source
        self._dest = dest
        self._owner = owner
        self._clock = clock
        self._bytes = stats.bytes
        self._received = stats.received
        self._head: Channel | None = None
        self._tail: Channel | None = None
        self._stubs: list[ToxicStub] = []
        self._toxics: list[ToxicWrapper] = []
        self._sink: asyncio.Task[None] | None = None
        self._source_eof = False
        self._reset = False
        self._ended = False
        self._closed = False
        self._dest_full = False
        self._chain_full = False
        self._reading_paused = False
        self._dest_ready: asyncio.Future[None] | None = None

    # -- from the sockets --------------------------------------------------

    def feed(self, data: bytes) -> None:
        self._received[self.direction] += len(data)
        head = self._head
        if head is None:
            self._dest.write(data)
            self._bytes[self.direction] += len(data)
            return
        head.put_nowait(Chunk(data, self._clock.now()))
        if not self._chain_full and head.full():
            self._chain_full = True
            self._sync_reading()
            head.wait_writable().add_done_callback(self._on_chain_space)

    def carry(self, data: bytes) -> None:
        """Bytes the fast path had read (and counted as received) but not yet sent."""
        if data:
            self._received[self.direction] -= len(data)
            self.feed(data)

    def feed_eof(self) -> None:
        self._source_eof = True
        if self._head is None:
            self._finish()
        else:
            self._head.put_nowait(None)

    def dest_paused(self, paused: bool) -> None:
        self._dest_full = paused
        if not paused and self._dest_ready is not None and not self._dest_ready.done():
            self._dest_ready.set_result(None)
        self._sync_reading()

    # -- from the toxic collection ------------------------------------------

    def add_toxic(self, toxic: ToxicWrapper) -> None:
        if self._closed or self._ended:
            return
        if toxic.http:
            self._owner.http_arrived()
            return
        if self._tail is None:
            self._tail = Channel()
            self._sink = asyncio.get_running_loop().create_task(self._drain())
        channel = Channel(capacity=toxic.toxic.buffer_size)
        stub = ToxicStub(
            channel,
            self._tail,
            clock=self._clock,
            state=toxic.new_state(),
            on_reset=self._request_reset,
        )
        if self._stubs:
            self._stubs[-1].set_output(channel)
        else:
            self._head = channel
        self._stubs.append(stub)
        self._toxics.append(toxic)
        self._start(stub, toxic)

    async def update_toxic(self, toxic: ToxicWrapper) -> None:
        if toxic not in self._toxics:
            return
        stub = self._stubs[self._toxics.index(toxic)]
        await stub.interrupt()
        if not self._closed and not stub.closed and toxic in self._toxics:
            self._start(stub, toxic)

    async def remove_toxic(self, toxic: ToxicWrapper) -> None:
        if toxic not in self._toxics:
            return
        stub = self._stubs[self._toxics.index(toxic)]
        await stub.interrupt()
        if self._closed or toxic not in self._toxics:
            return
        if stub.active and isinstance(toxic.toxic, Cleanup):
            toxic.toxic.cleanup(stub)
        index = self._toxics.index(toxic)
        stub.output.extend(stub.input.take_all())
        if index:
            self._stubs[index - 1].set_output(stub.output)
        else:
            self._head = stub.output
        del self._stubs[index], self._toxics[index]
        stub.cancel()
        if not self._stubs and self._tail is not None and not self._tail:
            self._head = None

    def retarget(self, *, source: Source | None = None, dest: Sink | None = None) -> None:
        """Read from or write to something else from now on (the HTTP relay steps in)."""
        if source is not None:
            if self._reading_paused:
                self._source.resume_reading()
                source.pause_reading()
            self._source = source
        if dest is not None:
            self._dest = dest

    # -- lifetime -----------------------------------------------------------

    def close(self) -> None:
        """Stop every task; the connection is gone."""
        self._closed = True
        for stub in self._stubs:
            stub.cancel()
        if self._sink is not None:
            self._sink.cancel()

    def _start(self, stub: ToxicStub, toxic: ToxicWrapper) -> None:
        active = toxic.draw()
        stub.active = active
        stub.start(_pipe(toxic) if active else None, toxic.rng)

    async def _drain(self) -> None:
        tail = self._tail
        assert tail is not None
        while True:
            if not tail:
                if not self._stubs and self._head is tail:
                    self._head = None
                await tail.wait_readable()
                continue
            while self._dest_full:
                self._dest_ready = asyncio.get_running_loop().create_future()
                await self._dest_ready
            item = tail.get_nowait()
            if item is None:
                self._finish()
                return
            self._dest.write(item.data)
            self._bytes[self.direction] += len(item.data)

    def _finish(self) -> None:
        if self._ended:
            return
        self._ended = True
        if self._reset:
            how = Ending.RESET
        elif self._source_eof:
            how = Ending.NATURAL
        else:
            how = Ending.CLOSE
        self._owner.pipeline_ended(self, how)

    def _request_reset(self) -> None:
        self._reset = True

    def _on_chain_space(self, _: asyncio.Future[None]) -> None:
        head = self._head
        if head is not None and head.full() and not self._closed:
            head.wait_writable().add_done_callback(self._on_chain_space)
            return
        self._chain_full = False
        self._sync_reading()

    def _sync_reading(self) -> None:
        paused = self._dest_full or self._chain_full
        if paused == self._reading_paused or self._source.is_closing():
            return
        self._reading_paused = paused
        if paused:
            self._source.pause_reading()
        else:
            self._source.resume_reading()


def _pipe(toxic: ToxicWrapper) -> Pipe:
    assert isinstance(toxic.toxic, TcpToxic), toxic.type
    return toxic.toxic
