"""The per-connection plumbing a toxic runs on, after Toxiproxy's ``ToxicStub``.

A toxic is configuration; the stub is one direction of one connection::

    input Channel ──▶ [ toxic.pipe(stub) ] ──▶ output Channel
                            ▲
                 interrupt ─┘  (toxic removed or updated: return, flushing what you hold)

Every toxic is one loop with three rules (see CREATING_TOXICS.md):

* ``await stub.read()`` raises ``Interrupted`` when the toxic must stop: let it
  propagate, there is nothing in hand to flush;
* ``None`` from ``read()`` is end of stream: call ``stub.close()`` and return;
* waits are interruptible: ``await stub.sleep(s)`` returns False when
  interrupted, and the toxic then writes what it holds and returns.

State that must survive an update (``limit_data``'s byte count) lives in
``stub.state``, never on the toxic, which is shared by every connection.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from chaos.proxy.channel import Channel
from chaos.proxy.clock import Clock
from chaos.proxy.stream import Chunk

__all__ = ["Interrupted", "Pipe", "ToxicStub", "passthrough"]

log = logging.getLogger(__name__)


class Interrupted(Exception):
    """Raised by ``ToxicStub.read`` when the toxic is being removed or updated."""


class Pipe(Protocol):
    """What a stub can run: a TCP toxic's ``pipe`` bound to its attributes."""

    def pipe(self, stub: ToxicStub) -> Awaitable[None]: ...


class ToxicStub:
    """Input, output, interrupt, state and close for one toxic on one connection direction."""

    def __init__(
        self,
        input: Channel,
        output: Channel,
        *,
        clock: Clock,
        state: Any = None,
        on_reset: Callable[[], None] | None = None,
    ) -> None:
        self.input = input
        self.output = output
        self.state = state
        self.clock = clock
        self.rng: random.Random = random.Random()
        self.closed = False
        self.active = True
        """False while toxicity left this connection alone (the toxic runs as a passthrough)."""
        self._on_reset = on_reset
        self._interrupted = False
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    # -- what toxics use -------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    @property
    def interrupted(self) -> bool:
        return self._interrupted

    async def read(self, deadline: float | None = None) -> Chunk | None:
        """The next chunk, or None at end of stream.

        Raises ``Interrupted`` when interrupted, and ``TimeoutError`` once the clock
        passes ``deadline`` (if given) with nothing to read.
        """
        while True:
            if self._interrupted:
                raise Interrupted
            if self.input:
                return self.input.get_nowait()
            if deadline is not None and self.clock.now() >= deadline:
                raise TimeoutError
            await self._wait(self.input.wait_readable(), deadline)

    async def write(self, chunk: Chunk) -> None:
        """Forward a chunk, waiting while the next stage is full (never once interrupted)."""
        while not self._interrupted and self.output.full():
            await self._wait(self.output.wait_writable(), None)
        self.output.put_nowait(chunk)

    async def sleep(self, seconds: float) -> bool:
        """Wait ``seconds``; False if interrupted first."""
        return await self.sleep_until(self.clock.now() + seconds)

    async def sleep_until(self, when: float) -> bool:
        """Wait until the clock reaches ``when``; False if interrupted first."""
        while not self._interrupted and self.clock.now() < when - self.clock.lead:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            await self._wait(future, when)
        return not self._interrupted

    async def hold(self) -> None:
        """Wait until interrupted, reading nothing: the sender's buffers fill up behind us."""
        while not self._interrupted:
            await self._wait(asyncio.get_running_loop().create_future(), None)

    def close(self, *, reset: bool = False) -> None:
        """End this direction: downstream stages see end of stream.

        With ``reset`` the connection is torn down with a TCP RST instead of a FIN.
        """
        if self.closed:
            return
        self.closed = True
        if reset and self._on_reset is not None:
            self._on_reset()
        self.output.put_nowait(None)

    # -- what the pipeline uses ------------------------------------------

    def start(self, toxic: Pipe | None, rng: random.Random | None = None) -> None:
        """Run ``toxic`` (or pass data through unchanged when None: toxicity missed)."""
        if rng is not None:
            self.rng = rng
        self._interrupted = False
        self._task = asyncio.get_running_loop().create_task(self._run(toxic))

    async def interrupt(self) -> None:
        """Stop the running toxic and wait until it has returned (flushing what it held)."""
        task = self._task
        if task is None or task.done():
            return
        self._interrupted = True
        self._wake()
        try:
            await asyncio.wait((task,))
        finally:
            self._interrupted = False

    def set_output(self, output: Channel) -> None:
        """Rewire; a toxic blocked writing to the old output re-checks the new one."""
        self.output = output
        self._wake()

    def cancel(self) -> None:
        """Tear down with the connection: no flushing, nothing left to flush into."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self, toxic: Pipe | None) -> None:
        try:
            if toxic is None:
                await passthrough(self)
            else:
                await toxic.pipe(self)
        except Interrupted:
            pass
        except Exception:
            log.exception("toxic %r failed; closing its stream", toxic)
            self.close()

    async def _wait(self, future: asyncio.Future[None], deadline: float | None) -> None:
        timer = None
        if deadline is not None:
            timer = self.clock.call_at(deadline, lambda: _resolve(future))
        self._waiter = future
        try:
            await future
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _wake(self) -> None:
        if self._waiter is not None:
            _resolve(self._waiter)


async def passthrough(stub: ToxicStub) -> None:
    """Forward everything unchanged: the noop toxic, and any toxic whose toxicity draw missed."""
    while (chunk := await stub.read()) is not None:
        await stub.write(chunk)
    stub.close()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
