"""The stub contract every toxic relies on: interruptible waits, flush on interrupt, rewiring."""

from __future__ import annotations

import asyncio

import pytest

from chaos.proxy.channel import Channel
from chaos.proxy.stream import Chunk
from chaos.proxy.stub import ToxicStub
from chaos.proxy.toxics.latency import Latency
from chaos.proxy.toxics.partition import Partition
from tests.proxy.fakes import FakeClock, Harness, settle


async def test_passthrough_when_toxicity_missed() -> None:
    harness = Harness(Latency(latency=1000), active=False)
    harness.send(b"a")
    harness.eof()
    await settle()
    assert harness.out() == [b"a", None]


async def test_interrupt_flushes_the_chunk_in_hand() -> None:
    harness = Harness(Latency(latency=1000))
    harness.send(b"held")
    await harness.clock.advance(0.1)
    assert harness.out() == []
    await harness.stub.interrupt()
    assert harness.out() == [b"held"]
    assert not harness.stub.running


async def test_read_raises_timeout_at_deadline() -> None:
    clock = FakeClock()
    stub = ToxicStub(Channel(), Channel(), clock=clock)
    task = asyncio.ensure_future(stub.read(deadline=clock.now() + 1))
    await clock.advance(0.5)
    assert not task.done()
    await clock.advance(0.6)
    with pytest.raises(TimeoutError):
        await task


async def test_write_waits_for_room_then_follows_a_rewire() -> None:
    clock = FakeClock()
    full = Channel(capacity=1)
    full.put_nowait(Chunk(b"old", 0))
    stub = ToxicStub(Channel(), full, clock=clock)
    write = asyncio.ensure_future(stub.write(Chunk(b"new", 0)))
    await settle()
    assert not write.done()
    elsewhere = Channel()
    stub.set_output(elsewhere)
    await settle()
    assert write.done()
    assert [c.data for c in elsewhere.take_all() if c] == [b"new"]


async def test_close_with_reset_notifies_and_ends_stream() -> None:
    resets: list[int] = []
    out = Channel()
    stub = ToxicStub(Channel(), out, clock=FakeClock(), on_reset=lambda: resets.append(1))
    stub.close(reset=True)
    stub.close()
    assert resets == [1]
    assert out.take_all() == [None]


async def test_interrupt_survives_the_connection_going_away() -> None:
    """A removal waiting on a stub must not fail when the connection is torn down meanwhile."""
    harness = Harness(Partition())
    await settle()
    harness.stub.cancel()
    await asyncio.wait_for(harness.stub.interrupt(), 1)
    assert not harness.stub.running
