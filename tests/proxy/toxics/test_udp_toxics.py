"""UDP toxics: one datagram in, zero or more (delay, bytes) out."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rrset

from chaos.proxy.toxics.bandwidth import Bandwidth
from chaos.proxy.toxics.dns_rewrite import DnsRewrite
from chaos.proxy.toxics.duplicate import Duplicate
from chaos.proxy.toxics.latency import Latency
from chaos.proxy.toxics.limit_data import LimitData
from chaos.proxy.toxics.loss import Loss
from chaos.proxy.toxics.partition import Partition
from chaos.proxy.toxics.timeout import Timeout
from chaos.proxy.toxics.truncate import Truncate
from tests.proxy.fakes import context


def test_latency_delays_the_datagram() -> None:
    assert Latency(latency=30).datagram(b"d", context()) == ((0.03, b"d"),)


def test_loss_drops_about_probability_of_datagrams() -> None:
    toxic, ctx = Loss(probability=0.2), context(seed=7)
    kept = sum(bool(toxic.datagram(b"d", ctx)) for _ in range(10_000))
    assert 7_800 <= kept <= 8_200


def test_loss_is_reproducible_with_a_seed() -> None:
    toxic = Loss(probability=0.5)
    runs = [
        [bool(toxic.datagram(b"d", ctx)) for _ in range(100)]
        for ctx in (context(seed=1), context(seed=1))
    ]
    assert runs[0] == runs[1]


def test_duplicate_sends_copies_spaced_by_delay() -> None:
    out = Duplicate(copies=2, delay=5).datagram(b"d", context())
    assert out == ((0.0, b"d"), (0.005, b"d"), (0.01, b"d"))


def test_truncate_cuts_or_drops_oversize() -> None:
    assert Truncate(max_size=3).datagram(b"abcdef", context()) == ((0.0, b"abc"),)
    assert Truncate(max_size=3, drop=True).datagram(b"abcdef", context()) == ()
    assert Truncate(max_size=10).datagram(b"abc", context()) == ((0.0, b"abc"),)


def test_timeout_and_partition_drop_everything() -> None:
    assert Timeout(timeout=100).datagram(b"d", context()) == ()
    assert Partition().datagram(b"d", context()) == ()


def test_bandwidth_queues_datagrams_behind_each_other() -> None:
    toxic = Bandwidth(rate=1)  # 1000 bytes/s
    state = toxic.new_state()
    first = toxic.datagram(b"x" * 100, context(state, now=10.0))
    second = toxic.datagram(b"x" * 100, context(state, now=10.0))
    assert abs(first[0][0] - 0.1) < 1e-9
    assert abs(second[0][0] - 0.2) < 1e-9


def test_limit_data_passes_whole_datagrams_within_budget() -> None:
    toxic = LimitData(bytes=10)
    ctx = context(toxic.new_state())
    assert toxic.datagram(b"x" * 6, ctx)
    assert toxic.datagram(b"x" * 6, ctx) == ()
    assert toxic.datagram(b"x" * 4, ctx)


def _answer(name: str, address: str) -> bytes:
    query = dns.message.make_query(name, "A")
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text(name, 300, "IN", "A", address))
    return response.to_wire()


def test_dns_rewrite_forges_the_a_answer_and_keeps_the_ttl() -> None:
    toxic = DnsRewrite.decode({"name": "API-1.mesh.test", "address": "10.6.6.6"})
    out = toxic.datagram(_answer("api-1.mesh.test.", "127.0.0.1"), context())
    message = dns.message.from_wire(out[0][1])
    assert message.flags & dns.flags.QR
    (rrset,) = message.answer
    assert [r.address for r in rrset] == ["10.6.6.6"]
    assert rrset.ttl == 300


def test_dns_rewrite_leaves_other_names_queries_and_garbage_alone() -> None:
    toxic = DnsRewrite(name="api-1.mesh.test", address="10.6.6.6")
    other = _answer("api-2.mesh.test.", "127.0.0.2")
    query = dns.message.make_query("api-1.mesh.test.", "A").to_wire()
    for datagram in (other, query, b"\x00garbage"):
        assert toxic.datagram(datagram, context()) == ((0.0, datagram),)
