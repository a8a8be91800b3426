"""The SNTP server on real loopback sockets: replies, lies, drops, kiss-o'-death, metrics."""

from __future__ import annotations

import socket
import time

import pytest
from prometheus_client.registry import CollectorRegistry

from services.common.errors import PortInUseError
from services.ntp import Lies, NTPServer, query
from services.ntp.client import Sample
from services.ntp.packet import HEADER_SIZE, MODE_SERVER, Header, ntp_to_ns
from tests.ntp.conftest import Probe, eventually, near, open_probe, request, udp_addr


async def test_endpoints_resolve_port_zero(server: NTPServer) -> None:
    host, port = udp_addr(server)
    assert host == "127.0.0.1" and port > 0
    assert server.endpoints["admin"].startswith("http://127.0.0.1:")
    assert not server.endpoints["admin"].endswith(":0")
    assert server.name == "ntp-test"


@pytest.mark.parametrize("version", [1, 2, 3, 4])
async def test_mode3_gets_mode4_with_version_echoed(probe: Probe, version: int) -> None:
    before = time.time_ns()
    sent = request(version=version)
    probe.send(sent)
    reply = Header.decode(await probe.reply())
    after = time.time_ns()
    assert (reply.mode, reply.version, reply.stratum, reply.leap) == (MODE_SERVER, version, 1, 0)
    assert reply.origin == Header.decode(sent).transmit
    assert before <= ntp_to_ns(reply.receive) <= ntp_to_ns(reply.transmit) <= after + 1000
    assert ntp_to_ns(reply.reference) <= ntp_to_ns(reply.receive)
    assert reply.ref_id == b"LOCL"
    assert reply.precision == -20


async def test_origin_is_echoed_bit_for_bit(probe: Probe) -> None:
    odd = 0xDEADBEEF_12345677
    probe.send(request(transmit=odd))
    assert Header.decode(await probe.reply()).origin == odd


async def test_offset_within_a_millisecond_of_the_host_clock(server: NTPServer) -> None:
    sample = await query(*udp_addr(server))
    assert near(sample, 0.0)
    assert 0 <= sample.delay < 0.5


async def test_lies_are_served(server: NTPServer) -> None:
    server.clock.update(offset=-7.25, stratum=4, leap=1)
    sample = await query(*udp_addr(server))
    assert near(sample, -7.25)
    assert (sample.stratum, sample.leap, sample.ref_id) == (4, 1, bytes([127, 0, 0, 1]))


async def test_drift_makes_the_served_offset_grow(server: NTPServer) -> None:
    server.clock.update(drift_ppm=100_000.0)  # 0.1 s per second, to see it quickly
    since = server.clock.drift_since_ns

    async def drifted() -> Sample | None:
        sample = await query(*udp_addr(server))
        return sample if sample.offset >= 0.002 else None

    # Polled at 50/s, within the rate limit's burst for as long as this takes (~20 ms).
    sample = await eventually(drifted, timeout=3, interval=0.02)
    elapsed = (ntp_to_ns(sample.t1) - since) / 1e9 + sample.delay / 2
    # A measurement is only good to half its round trip (plus what drifts meanwhile).
    assert sample.offset == pytest.approx(0.1 * elapsed, abs=0.6 * sample.delay + 2e-4)


async def test_initial_lies_from_the_constructor(registry: CollectorRegistry) -> None:
    async with NTPServer(registry=registry, lies=Lies(offset=2.0, stratum=3)) as lying:
        sample = await query(*udp_addr(lying))
    assert near(sample, 2.0) and sample.stratum == 3


MALFORMED = [
    ("short", b""),
    ("short", b"\x23" * 47),
    ("mode6", bytes([0x16, 0x02]) + bytes(46)),  # ntpq readvar
    ("mode7", bytes([0x17, 0x00, 0x03, 0x2A]) + bytes(44)),  # the monlist amplifier
    ("bad_mode", request(mode=4)),  # a server reply reflected back
    ("bad_mode", request(mode=5)),  # broadcast
    ("bad_mode", bytes(48)),  # zeros: mode 0, version 0
    ("bad_version", request(version=0)),
    ("bad_version", request(version=5)),
    ("bad_version", request(version=7)),
    ("bad_mode", bytes(range(256)) * 4),  # garbage (0x00 first)
]


@pytest.mark.parametrize(("reason", "datagram"), MALFORMED)
async def test_malformed_is_dropped_counted_and_harmless(
    server: NTPServer, registry: CollectorRegistry, probe: Probe, reason: str, datagram: bytes
) -> None:
    probe.send(datagram)
    good = request()
    probe.send(good)
    # Replies come back in order on one socket, so the first one must answer ``good``.
    reply = Header.decode(await probe.reply())
    assert reply.origin == Header.decode(good).transmit
    assert probe.received.empty()
    value = registry.get_sample_value("fallacies_ntp_malformed_packets_total", {"reason": reason})
    assert value == 1
    assert registry.get_sample_value("fallacies_ntp_requests_total") == 2
    assert registry.get_sample_value("fallacies_ntp_replies_total") == 1


@pytest.mark.parametrize("size", [0, 1, 20, 47, 48, 49, 68, 120, 1200])
async def test_a_reply_is_never_larger_than_its_request(probe: Probe, size: int) -> None:
    datagram = (request() + bytes(size))[:size]
    probe.send(datagram)
    marker = request()
    probe.send(marker)
    replies = [await probe.reply()]
    if size >= HEADER_SIZE:
        replies.append(await probe.reply())
        assert len(replies[0]) <= size
    assert Header.decode(replies[-1]).origin == Header.decode(marker).transmit
    assert all(len(reply) == HEADER_SIZE for reply in replies)


async def flood(probe: Probe, count: int) -> list[Header]:
    for _ in range(count):
        probe.send(request())
    return [Header.decode(await probe.reply()) for _ in range(count)]


async def flood_answers(probe: Probe, count: int, registry: CollectorRegistry) -> list[Header]:
    """Send ``count`` requests; once the server has counted them all, what came back."""
    for _ in range(count):
        probe.send(request())

    async def all_counted() -> bool:
        return registry.get_sample_value("fallacies_ntp_requests_total") == count

    await eventually(all_counted, timeout=5)
    answers = []
    while not probe.received.empty() or len(answers) < _answered(registry):
        answers.append(Header.decode(await probe.reply()))
    return answers


def _answered(registry: CollectorRegistry) -> int:
    replies = registry.get_sample_value("fallacies_ntp_replies_total") or 0
    kisses = registry.get_sample_value("fallacies_ntp_kod_sent_total", {"code": "RATE"}) or 0
    return int(replies + kisses)


async def test_a_flood_gets_one_kiss_then_silence(registry: CollectorRegistry) -> None:
    """One RATE kiss-o'-death, then nothing: a KoD per spoofed request would reflect."""
    async with NTPServer(registry=registry, rate_limit=10, burst=5) as limited:
        flooder = await open_probe(*udp_addr(limited))
        try:
            replies = await flood_answers(flooder, 50, registry)
            assert [r.stratum for r in replies[:5]] == [1] * 5
            kisses = [r for r in replies if r.stratum == 0]
            assert 1 <= len(kisses) <= 2  # a token may refill during the burst
            assert all(
                (k.leap, k.ref_id, k.mode, k.kiss_code) == (3, b"RATE", 4, "RATE") for k in kisses
            )
            dropped = registry.get_sample_value("fallacies_ntp_limited_dropped_total")
            assert dropped is not None and dropped >= 40
            assert len(replies) + dropped == 50
        finally:
            flooder.close()


async def test_by_default_a_source_is_its_ip_whatever_its_port(
    registry: CollectorRegistry,
) -> None:
    async with NTPServer(registry=registry, rate_limit=1, burst=2) as s:
        first, second = await open_probe(*udp_addr(s)), await open_probe(*udp_addr(s))
        try:
            await flood_answers(first, 5, registry)  # 2 answers, 1 kiss, 2 dropped
            dropped = registry.get_sample_value("fallacies_ntp_limited_dropped_total")
            second.send(request())  # another port, the same IP: the same, kissed, source

            def counted() -> bool:
                return registry.get_sample_value("fallacies_ntp_requests_total") == 6

            await eventually(counted, timeout=5)
            assert registry.get_sample_value("fallacies_ntp_limited_dropped_total") == (
                (dropped or 0) + 1
            )
            assert second.received.empty()
        finally:
            first.close()
            second.close()


async def test_the_mesh_keys_on_ip_and_port(registry: CollectorRegistry) -> None:
    """All of the mesh's clients share one address: another socket is not punished."""
    async with NTPServer(registry=registry, rate_limit=1, burst=2, rate_limit_key="address") as s:
        flooder, bystander = await open_probe(*udp_addr(s)), await open_probe(*udp_addr(s))
        try:
            await flood_answers(flooder, 5, registry)
            bystander.send(request())
            assert Header.decode(await bystander.reply()).stratum == 1
        finally:
            flooder.close()
            bystander.close()


async def test_no_kiss_at_a_normal_rate(server: NTPServer, registry: CollectorRegistry) -> None:
    host, port = udp_addr(server)
    probe = await open_probe(host, port)
    try:
        replies = await flood(probe, 8)  # a client's whole burst, back to back
        for _ in range(20):  # and separate queries, as the workload makes them
            await query(host, port)
    finally:
        probe.close()
    assert all(r.stratum == 1 for r in replies)
    assert registry.get_sample_value("fallacies_ntp_kod_sent_total", {"code": "RATE"}) == 0


async def test_rate_limit_zero_disables_it(registry: CollectorRegistry) -> None:
    async with NTPServer(registry=registry, rate_limit=0) as unlimited:
        probe = await open_probe(*udp_addr(unlimited))
        try:
            assert all(r.stratum == 1 for r in await flood(probe, 300))
        finally:
            probe.close()
    assert registry.get_sample_value("fallacies_ntp_rate_limit_sources") is None


async def test_metrics_follow_the_clock(server: NTPServer, registry: CollectorRegistry) -> None:
    assert registry.get_sample_value("fallacies_ntp_served_offset_seconds") == 0.0
    assert registry.get_sample_value("fallacies_ntp_stratum") == 1
    server.clock.update(offset=1.5, drift_ppm=1000.0, stratum=9, leap=3)
    offset = registry.get_sample_value("fallacies_ntp_served_offset_seconds")
    assert offset is not None and 1.5 <= offset < 1.6
    await eventually(
        lambda: (registry.get_sample_value("fallacies_ntp_served_offset_seconds") or 0) > offset,
        what="offset gauge includes drift at scrape time",
    )
    assert registry.get_sample_value("fallacies_ntp_stratum") == 9
    assert registry.get_sample_value("fallacies_ntp_leap_indicator") == 3


async def test_udp_port_taken_names_the_port(registry: CollectorRegistry) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError) as info:
            await NTPServer(registry=registry, port=port).start()
    assert info.value.port == port
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "address already in use" in str(info.value)


async def test_admin_port_taken_names_it_and_frees_udp(registry: CollectorRegistry) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = NTPServer(registry=registry, admin_port=port)
        with pytest.raises(PortInUseError) as info:
            await server.start()
    assert info.value.port == port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind(udp_addr(server))  # the UDP socket was released


async def test_stop_is_idempotent(registry: CollectorRegistry) -> None:
    server = NTPServer(registry=registry)
    await server.start()
    address = udp_addr(server)
    await server.stop()
    await server.stop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind(address)  # released once, and the second stop did not fail
