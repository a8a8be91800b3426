"""Each TCP toxic against an in-memory stub and a fake clock (no sockets, no waiting)."""

from __future__ import annotations

import random

import pytest

from chaos.proxy.toxics.bandwidth import Bandwidth
from chaos.proxy.toxics.latency import Latency
from chaos.proxy.toxics.limit_data import LimitData
from chaos.proxy.toxics.noop import Noop
from chaos.proxy.toxics.partition import Partition
from chaos.proxy.toxics.reset_peer import ResetPeer
from chaos.proxy.toxics.slicer import Slicer
from chaos.proxy.toxics.slow_close import SlowClose
from chaos.proxy.toxics.timeout import Timeout
from tests.proxy.fakes import Harness, settle


async def test_noop_passes_everything() -> None:
    harness = Harness(Noop())
    harness.send(b"a")
    harness.send(b"b")
    harness.eof()
    await settle()
    assert harness.out() == [b"a", b"b", None]


async def test_latency_delays_each_chunk_by_latency() -> None:
    harness = Harness(Latency(latency=50))
    harness.send(b"x")
    await harness.clock.advance(0.049)
    assert harness.out() == []
    await harness.clock.advance(0.002)
    assert harness.out() == [b"x"]


async def test_latency_does_not_add_up_for_queued_chunks() -> None:
    """A chunk that waited behind another has already served part of its delay."""
    harness = Harness(Latency(latency=100))
    harness.send(b"1")
    await harness.clock.advance(0.05)
    harness.send(b"2")
    await harness.clock.advance(0.051)
    assert harness.out() == [b"1"]
    await harness.clock.advance(0.05)
    assert harness.out() == [b"2"]


async def test_latency_jitter_stays_in_range() -> None:
    toxic = Latency(latency=100, jitter=20)
    rng = random.Random(3)
    delays = [toxic.delay(rng) for _ in range(2000)]
    assert min(delays) >= 0.08 and max(delays) <= 0.12
    assert 0.095 < sum(delays) / len(delays) < 0.105


async def test_bandwidth_paces_to_rate() -> None:
    harness = Harness(Bandwidth(rate=10))  # 10 KB/s = 10,000 bytes/s
    harness.send(b"x" * 10_000)
    await harness.clock.advance(0.5)
    assert 4_800 <= len(harness.data()) <= 5_000
    await harness.clock.advance(0.5)
    assert len(harness.data()) == 5_000


async def test_bandwidth_zero_is_unlimited() -> None:
    harness = Harness(Bandwidth(rate=0))
    harness.send(b"x" * 100_000)
    await settle()
    assert len(harness.data()) == 100_000


async def test_bandwidth_flushes_the_rest_when_interrupted() -> None:
    harness = Harness(Bandwidth(rate=1))
    harness.send(b"x" * 10_000)
    await harness.clock.advance(0.1)
    await harness.stub.interrupt()
    assert len(harness.data()) == 10_000


async def test_slow_close_holds_the_end_of_stream() -> None:
    harness = Harness(SlowClose(delay=200))
    harness.send(b"data")
    harness.eof()
    await settle()
    assert harness.out() == [b"data"]
    await harness.clock.advance(0.19)
    assert harness.out() == []
    await harness.clock.advance(0.02)
    assert harness.out() == [None]


async def test_timeout_drops_then_closes() -> None:
    harness = Harness(Timeout(timeout=100))
    harness.send(b"lost")
    await harness.clock.advance(0.05)
    assert harness.out() == []
    await harness.clock.advance(0.06)
    assert harness.out() == [None]


async def test_timeout_zero_holds_forever_and_cleanup_closes() -> None:
    toxic = Timeout(timeout=0)
    harness = Harness(toxic)
    harness.send(b"lost")
    await harness.clock.advance(3600)
    assert harness.out() == []
    await harness.stub.interrupt()
    toxic.cleanup(harness.stub)
    assert harness.out() == [None]


async def test_reset_peer_resets_after_timeout() -> None:
    harness = Harness(ResetPeer(timeout=100))
    await harness.clock.advance(1)
    assert harness.resets == 0  # nothing arrived yet
    harness.send(b"trigger")
    await harness.clock.advance(0.099)
    assert harness.resets == 0
    await harness.clock.advance(0.002)
    assert harness.resets == 1
    assert harness.out() == [None]


async def test_slicer_cuts_into_sizes_around_the_average() -> None:
    harness = Harness(Slicer(average_size=10, size_variation=3, delay=0))
    harness.send(bytes(range(200)))
    await harness.clock.advance(0.01)
    pieces = harness.out()
    assert b"".join(p for p in pieces if p) == bytes(range(200))
    assert len(pieces) >= 200 // 13
    assert all(p is not None and len(p) <= 13 for p in pieces)
    assert all(p is not None and len(p) >= 7 for p in pieces[:-1])


async def test_slicer_waits_delay_between_pieces() -> None:
    harness = Harness(Slicer(average_size=10, size_variation=0, delay=1000))  # 1 ms
    harness.send(b"x" * 50)
    await settle()
    assert len(harness.out()) == 1
    await harness.clock.advance(0.0045)
    assert len(harness.out()) == 4


def test_slicer_rejects_variation_not_below_average() -> None:
    with pytest.raises(ValueError, match="size_variation"):
        Slicer.decode({"average_size": 4, "size_variation": 4})


async def test_slicer_with_zero_average_passes_chunks_whole() -> None:
    harness = Harness(Slicer())
    harness.send(b"x" * 1000)
    await settle()
    assert harness.out() == [b"x" * 1000]


async def test_limit_data_cuts_at_the_limit_and_closes() -> None:
    harness = Harness(LimitData(bytes=5))
    harness.send(b"abc")
    harness.send(b"defgh")
    await settle()
    assert harness.out() == [b"abc", b"de", None]


async def test_limit_data_counts_across_restarts() -> None:
    toxic = LimitData(bytes=4)
    harness = Harness(toxic)
    harness.send(b"ab")
    await settle()
    await harness.stub.interrupt()
    harness.stub.start(toxic)
    harness.send(b"cdef")
    await settle()
    assert harness.out() == [b"ab", b"cd", None]


async def test_partition_holds_data_until_interrupted() -> None:
    harness = Harness(Partition())
    harness.send(b"waiting")
    await harness.clock.advance(10)
    assert harness.out() == []
    assert len(harness.input) == 1
    await harness.stub.interrupt()
    assert not harness.stub.running
