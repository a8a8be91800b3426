"""Marzullo's intersection: truechimers outvote falsetickers, and only a majority counts."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.registry import CollectorRegistry

from services.ntp import Lies, NoMajorityError, NTPServer, Sample, burst, select
from tests.ntp.conftest import udp_addr


def sample(
    server: str,
    offset: float,
    delay: float = 0.002,
    *,
    dispersion: float = 0.001,
    leap: int = 0,
    stratum: int = 1,
) -> Sample:
    return Sample(
        server=server,
        offset=offset,
        delay=delay,
        stratum=stratum,
        leap=leap,
        root_delay=0.0,
        root_dispersion=dispersion,
        ref_id=b"LOCL",
        t1=0,
        t2=0,
        t3=0,
        t4=0,
    )


def test_one_liar_of_three_is_a_falseticker() -> None:
    chosen = select([sample("a", 0.0001), sample("b", -0.0003), sample("c", 5.0)])
    assert chosen.truechimers == ("a", "b")
    assert chosen.falsetickers == ("c",)
    assert -0.0003 <= chosen.offset <= 0.0001
    assert chosen.low <= chosen.offset <= chosen.high


def test_a_small_lie_is_caught_once_the_intervals_part() -> None:
    # Intervals are ±2 ms wide: a 10 ms liar no longer overlaps the honest pair.
    chosen = select([sample("a", 0.0), sample("b", 0.0005), sample("c", 0.010)])
    assert chosen.falsetickers == ("c",)


def test_a_lie_inside_the_error_bars_cannot_be_told_apart() -> None:
    chosen = select([sample("a", 0.0), sample("b", 0.0005), sample("c", 0.001)])
    assert chosen.falsetickers == ()


def test_falsetickers_on_both_sides_of_five() -> None:
    samples = [sample("a", 0.0), sample("b", 0.001), sample("c", -0.0005)]
    samples += [sample("early", -3.0), sample("late", 7.0)]
    chosen = select(samples)
    assert chosen.truechimers == ("a", "b", "c")
    assert chosen.falsetickers == ("early", "late")


def test_tighter_intervals_weigh_more() -> None:
    chosen = select([sample("near", 0.0, delay=0.0001), sample("far", 0.003, delay=0.010)])
    assert 0.0 < chosen.offset < 0.0015


def test_a_colluding_majority_wins() -> None:
    # Byzantine limit: if most servers lie the same way, the honest one is outvoted.
    chosen = select([sample("honest", 0.0), sample("liar1", 5.0), sample("liar2", 5.0002)])
    assert chosen.falsetickers == ("honest",)
    assert chosen.offset == pytest.approx(5.0001, abs=1e-3)


def test_two_that_disagree_have_no_majority() -> None:
    with pytest.raises(NoMajorityError, match="no 2 of 2"):
        select([sample("a", 0.0), sample("b", 5.0)])


def test_three_that_all_disagree_have_no_majority() -> None:
    with pytest.raises(NoMajorityError):
        select([sample("a", 0.0), sample("b", 5.0), sample("c", -5.0)])


def test_one_server_is_believed() -> None:
    assert select([sample("only", 2.0)]).offset == 2.0


def test_unsynchronised_and_distant_servers_take_no_part() -> None:
    chosen = select(
        [
            sample("a", 0.0),
            sample("b", 0.0002),
            sample("alarm", 0.0, leap=3),
            sample("kiss", 0.0, stratum=0),
            sample("slow", 0.0, delay=4.0),
        ]
    )
    assert chosen.truechimers == ("a", "b")
    assert chosen.unusable == ("alarm", "kiss", "slow")
    with pytest.raises(NoMajorityError, match="no usable"):
        select([sample("alarm", 0.0, leap=3)])


def test_touching_intervals_overlap() -> None:
    # a: [-1, 1] ms + precision, b: [1, 3] ms: they meet at one point and agree.
    a = sample("a", 0.0, delay=0.0, dispersion=0.001 - 1e-6)
    b = sample("b", 0.002, delay=0.0, dispersion=0.001 - 1e-6)
    assert select([a, b]).truechimers == ("a", "b")


async def test_three_real_servers_one_told_to_lie() -> None:
    servers = [
        NTPServer(name="ntp-a", registry=CollectorRegistry(), lies=Lies(offset=5.0)),
        NTPServer(name="ntp-b", registry=CollectorRegistry()),
        NTPServer(name="ntp-c", registry=CollectorRegistry()),
    ]
    for server in servers:
        await server.start()
    try:
        samples = await asyncio.gather(*(burst(*udp_addr(s), 4) for s in servers))
    finally:
        for server in servers:
            await server.stop()
    chosen = select(samples)
    assert chosen.falsetickers == (servers[0].endpoints["udp"],)
    assert len(chosen.truechimers) == 2
    # The true offset (0) is inside every honest interval, hence inside the intersection.
    assert chosen.low <= 0.0 <= chosen.high
    assert abs(chosen.offset) <= max(s.delay for s in samples[1:]) / 2 + 1e-5
