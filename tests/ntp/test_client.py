"""The client: offset arithmetic, the bogus-origin check, KoD, and the clock filter."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import pytest

from services.ntp import (
    BogusReplyError,
    KissOfDeathError,
    NTPClientError,
    NTPServer,
    burst,
    offset_and_delay,
    query,
)
from services.ntp.client import NTPTimeoutError
from services.ntp.packet import Header, ns_to_ntp
from tests.ntp.conftest import near, udp_addr

MS = 1_000_000
SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND


def test_symmetric_paths_give_the_true_offset() -> None:
    # Server 5 s ahead; 10 ms each way; 1 ms inside the server.
    t1 = T0
    t2 = T0 + 10 * MS + 5 * SECOND
    t3 = t2 + 1 * MS
    t4 = T0 + 21 * MS
    offset, delay = offset_and_delay(*map(ns_to_ntp, (t1, t2, t3, t4)))
    assert offset == pytest.approx(5.0, abs=1e-9)
    assert delay == pytest.approx(0.020, abs=1e-9)


def test_asymmetry_shifts_the_offset_by_half_the_difference() -> None:
    # True offset 0; the request takes 0 ms, the reply 40 ms (e.g. a one-way proxy delay).
    out, back = 0, 40 * MS
    t1 = T0
    t2 = T0 + out
    t3 = t2 + 1 * MS
    t4 = t3 + back
    offset, delay = offset_and_delay(*map(ns_to_ntp, (t1, t2, t3, t4)))
    assert offset == pytest.approx((out - back) / 2 / SECOND, abs=1e-9) == pytest.approx(-0.020)
    assert delay == pytest.approx(0.040, abs=1e-9)
    assert abs(offset) <= delay / 2  # the error never exceeds half the round trip


Reply = tuple[float, dict[str, Any]]
"""(seconds to hold the reply back, header fields to change; "offset" shifts its clock)."""

Responder = Callable[[Header, int], list[Reply]]
"""Given a request and how many came before it: the replies to send."""

Start = Callable[[Responder], Awaitable[tuple[str, int]]]


def answer(request: Header, *, offset: float = 0.0, **fields: Any) -> bytes:
    """A correct reply to ``request`` from a clock ``offset`` seconds off, stamped now."""
    now = ns_to_ntp(time.time_ns() + round(offset * SECOND))
    header: dict[str, Any] = {
        "mode": 4,
        "stratum": 1,
        "ref_id": b"LOCL",
        "origin": request.transmit,
        "receive": now,
        "transmit": now,
    }
    return Header(**(header | fields)).encode()


class FakeServer(asyncio.DatagramProtocol):
    """Answers as scripted, stamping each reply when it is actually sent."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.count = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = Header.decode(data)
        loop = asyncio.get_running_loop()
        for hold, fields in self.respond(request, self.count):
            loop.call_later(hold, self._send, request, fields, addr)
        self.count += 1

    def _send(self, request: Header, fields: dict[str, Any], addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(answer(request, **fields), addr)


@pytest.fixture
async def fake() -> AsyncIterator[Start]:
    loop = asyncio.get_running_loop()
    transports: list[asyncio.BaseTransport] = []

    async def start(respond: Responder) -> tuple[str, int]:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: FakeServer(respond), local_addr=("127.0.0.1", 0)
        )
        transports.append(transport)
        return cast(tuple[str, int], transport.get_extra_info("sockname"))

    yield start
    for transport in transports:
        transport.close()


async def test_reply_with_a_foreign_origin_is_ignored(fake: Start) -> None:
    def respond(request: Header, _: int) -> list[Reply]:
        spoof = {"offset": 1000.0, "origin": request.transmit ^ 1}
        return [(0.0, spoof), (0.01, {})]

    sample = await query(*await fake(respond), timeout=2)
    assert near(sample, 0.0)  # the 1000 s spoof came first and lost


@pytest.mark.parametrize(
    "forged",
    [
        {"origin": 0},
        {"mode": 3},  # a request reflected back
        {"transmit": 0},
        {"version": 0},
    ],
)
async def test_only_bogus_replies_is_a_bogus_reply_error(
    fake: Start, forged: dict[str, int]
) -> None:
    host, port = await fake(lambda request, _: [(0.0, forged)])
    with pytest.raises(BogusReplyError) as info:
        await query(host, port, timeout=0.2)
    assert info.value.bogus == 1
    assert isinstance(info.value, TimeoutError)


async def test_silence_is_a_plain_timeout(fake: Start) -> None:
    host, port = await fake(lambda request, _: [])
    with pytest.raises(NTPTimeoutError) as info:
        await query(host, port, timeout=0.1)
    assert type(info.value) is NTPTimeoutError and info.value.bogus == 0


async def test_requests_carry_an_unguessable_transmit_timestamp(fake: Start) -> None:
    seen: list[int] = []

    def respond(request: Header, _: int) -> list[Reply]:
        seen.append(request.transmit)
        return [(0.0, {})]

    await burst(*await fake(respond), 16)
    assert len(seen) == 16
    assert len({stamp & 0xFF for stamp in seen}) > 1  # random low bits


KOD: dict[str, Any] = {"stratum": 0, "ref_id": b"RATE", "leap": 3}


async def test_kiss_of_death_is_reported_not_used(fake: Start) -> None:
    host, port = await fake(lambda request, _: [(0.0, KOD)])
    with pytest.raises(KissOfDeathError) as info:
        await query(host, port)
    assert info.value.code == "RATE"


async def test_burst_stops_at_the_first_kiss(fake: Start) -> None:
    asked: list[int] = []

    def respond(request: Header, count: int) -> list[Reply]:
        asked.append(count)
        return [(0.0, {} if count < 2 else KOD)]

    with pytest.raises(KissOfDeathError):
        await burst(*await fake(respond), 8)
    assert asked == [0, 1, 2]


async def test_burst_keeps_the_lowest_delay_sample(fake: Start) -> None:
    # Each reply is held back a different time; its offset (= its index) tells which was kept.
    holds = [0.030, 0.005, 0.020, 0.040]
    host, port = await fake(lambda request, i: [(holds[i], {"offset": float(i)})])
    best = await burst(host, port, len(holds))
    assert round(best.offset) == 1
    assert 0.005 <= best.delay < 0.020
    # The fake stamps T2 when it sends, so the hold looks like time on the way out: the
    # measured offset is high by about half of it, and never by more than δ/2.
    assert best.offset >= 1.0 + 0.005 / 2 - 1e-3
    assert near(best, 1.0)


async def test_burst_skips_lost_replies(fake: Start) -> None:
    host, port = await fake(lambda request, count: [] if count % 2 else [(0.0, {})])
    sample = await burst(host, port, 4, timeout=0.1)
    assert near(sample, 0.0)


async def test_burst_with_every_reply_lost_times_out(fake: Start) -> None:
    host, port = await fake(lambda request, count: [])
    with pytest.raises(NTPTimeoutError):
        await burst(host, port, 3, timeout=0.05)


async def test_unsynchronised_server_is_flagged(fake: Start) -> None:
    host, port = await fake(lambda request, _: [(0.0, {"leap": 3})])
    assert not (await query(host, port)).synchronized


async def test_closed_port_fails_fast() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(NTPClientError, match="unreachable"):
        await query("127.0.0.1", port, timeout=2)
    assert time.monotonic() - started < 1


async def test_against_the_real_server(server: NTPServer) -> None:
    server.clock.update(offset=0.5)
    sample = await burst(*udp_addr(server), 4)
    assert near(sample, 0.5)
    assert sample.server == server.endpoints["udp"]
    assert sample.synchronized
    assert sample.root_distance == pytest.approx(sample.delay / 2 + 1 / 1024 + 1e-6)


async def test_real_server_flood_ends_in_kiss_of_death() -> None:
    async with NTPServer(rate_limit=5, burst=3) as limited:
        with pytest.raises(KissOfDeathError) as info:
            await burst(*udp_addr(limited), 10)
    assert info.value.code == "RATE"
