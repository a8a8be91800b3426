"""The answer cache: one entry per answer, whatever else the client varies, and a
cached answer byte for byte what the uncached path would have sent."""

from __future__ import annotations

import random

import dns.edns
import dns.flags
import dns.message
import pytest

from services.dns import Outcome, QueryHandler, Transport, Zone
from tests.dns.wire_mutants import QUESTION, ROOT_OPT, header, mutants, respell

UDP, TCP = Transport.UDP, Transport.TCP


def query(qname: str = "api-1.mesh.test.", rdtype: str = "A", **kwargs: object) -> bytes:
    message = dns.message.make_query(qname, rdtype, **kwargs)  # type: ignore[arg-type]
    return message.to_wire()


def uncached(zone: Zone, wire: bytes, transport: Transport) -> tuple[bytes | None, Outcome]:
    return QueryHandler(zone).respond(wire, transport)


def same_answer(got: tuple[bytes | None, Outcome], want: tuple[bytes | None, Outcome]) -> bool:
    """Byte for byte but for the order of records within an RRset: dnspython shuffles
    that at each rendering (and a cached answer keeps one order)."""
    (response, outcome), (expected, expected_outcome) = got, want
    if response is None or expected is None or len(response) < 12:
        return got == want
    if outcome != expected_outcome or len(response) != len(expected):
        return False
    if response[:12] != expected[:12]:
        return False
    message, other = dns.message.from_wire(response), dns.message.from_wire(expected)

    def unordered(m: dns.message.Message) -> tuple[object, ...]:
        spelled = [q.name.to_text() for q in m.question]  # Name equality ignores case
        return spelled, m.rcode(), m.edns, m.ednsflags, m.payload, m.options

    return message == other and unordered(message) == unordered(other)


def assert_as_uncached(
    handler: QueryHandler, wire: bytes, transport: Transport = UDP
) -> tuple[bytes | None, Outcome]:
    got = handler.respond(wire, transport)
    assert same_answer(got, uncached(handler.zone, wire, transport)), wire.hex()
    return got


@pytest.fixture
def handler(zone: Zone) -> QueryHandler:
    return QueryHandler(zone)


def test_queries_differing_only_in_edns_options_share_one_entry(handler: QueryHandler) -> None:
    options = [
        [],
        [dns.edns.CookieOption(b"client-1", b"")],
        [dns.edns.CookieOption(b"client-2", b"server-cookie-16")],
        [dns.edns.GenericOption(dns.edns.OptionType.PADDING, bytes(40))],
        [dns.edns.GenericOption(dns.edns.OptionType.NSID, b"")],
        [dns.edns.GenericOption(65001, b"opaque")],
    ]
    for each in options:
        wire = query("_api._tcp.mesh.test.", "SRV", use_edns=0, payload=1232, options=each)
        response, outcome = assert_as_uncached(handler, wire)
        assert response is not None and outcome == Outcome("SRV", "NOERROR")
    assert handler.cached_entries(UDP) == 1


def test_a_cached_answer_echoes_the_clients_own_case(handler: QueryHandler) -> None:
    """0x20: a resolver sends random case and drops an answer that does not echo it."""
    handler.respond(query("_api._tcp.mesh.test.", "SRV"), UDP)
    for spelled in ("_API._TCP.MESH.TEST.", "_aPi._TcP.mEsH.tEsT.", "_Api._tcp.Mesh.test."):
        response, _ = assert_as_uncached(handler, query(spelled, "SRV"))
        assert response is not None
        message = dns.message.from_wire(response)
        assert message.question[0].name.to_text() == spelled
        assert message.answer and message.additional
    assert handler.cached_entries(UDP) == 1


def test_the_do_bit_and_each_payload_limit_are_entries_of_their_own(
    handler: QueryHandler,
) -> None:
    wires = [
        query(),
        query(use_edns=0, payload=100),
        query(use_edns=0, payload=512),  # 100 reads as 512: the same entry
        query(use_edns=0, payload=1000),
        query(use_edns=0, payload=1232),
        query(use_edns=0, payload=4096),  # over the server's 1232: the same entry
        query(use_edns=0, payload=1232, want_dnssec=True),
    ]
    for wire in wires:
        assert_as_uncached(handler, wire)
    assert handler.cached_entries(UDP) == 5


def test_a_smaller_payload_never_gets_a_bigger_cached_answer(handler: QueryHandler) -> None:
    for payload in (1232, 600, 1232, 512, 600):
        response, outcome = assert_as_uncached(
            handler, query("big.mesh.test.", "TXT", use_edns=0, payload=payload)
        )
        assert response is not None and len(response) <= payload
        assert outcome.truncated == (payload < 1232)


def test_tcp_answers_one_entry_for_every_payload(handler: QueryHandler) -> None:
    for payload in (512, 1232, 4096, 65535):
        assert_as_uncached(
            handler, query("big.mesh.test.", "TXT", use_edns=0, payload=payload), TCP
        )
    assert handler.cached_entries(TCP) == 1


def test_rd_is_part_of_the_key_and_echoed(handler: QueryHandler) -> None:
    for flags in (dns.flags.RD, 0, dns.flags.RD):
        response, _ = assert_as_uncached(handler, query(flags=flags))
        assert response is not None
        assert dns.message.from_wire(response).flags & dns.flags.RD == flags
    assert handler.cached_entries(UDP) == 2


def test_a_flood_of_ids_cases_and_cookies_keeps_one_entry(handler: QueryHandler) -> None:
    rng = random.Random(2012)
    held = None
    for _ in range(3000):
        cookie = dns.edns.CookieOption(rng.randbytes(8), b"")
        message = dns.message.make_query(
            respell(rng, "big.mesh.test."), "TXT", use_edns=0, payload=1232, options=[cookie]
        )
        message.id = rng.randrange(1 << 16)
        response, outcome = handler.respond(message.to_wire(), UDP)
        assert response is not None and response[:2] == message.to_wire()[:2]
        assert outcome == Outcome("TXT", "NOERROR")
        held = handler.cached_bytes(UDP) if held is None else held
        assert handler.cached_entries(UDP) == 1
        assert handler.cached_bytes(UDP) == held > 0


def test_the_byte_bound_holds_for_answers_that_really_differ(zone: Zone) -> None:
    """Each EDNS payload from 1,300 bytes up is its own key when the server takes
    64 KB datagrams: a thousand keys of a 1 KB answer against a 16 KiB bound."""
    bound = 16 * 1024
    handler = QueryHandler(zone, max_udp_payload=65535, cache_bytes=bound)
    for payload in range(1300, 2300):
        wire = query("big.mesh.test.", "TXT", use_edns=0, payload=payload)
        response, outcome = handler.respond(wire, UDP)
        assert response is not None and not outcome.truncated
        assert 0 < handler.cached_bytes(UDP) <= bound
    assert handler.cached_entries(UDP) < bound // 1000


@pytest.mark.parametrize(
    "wire",
    [
        header() + b"\xc0\x0c\x00\x01\x00\x01",
        header(qd=2) + QUESTION + QUESTION,
        header() + QUESTION + b"junk",
        header(ar=1) + QUESTION + ROOT_OPT[:-2] + b"\x00\x0b\x00\x0a\x00\x07" + b"x" * 7,
        header(ar=2) + QUESTION + ROOT_OPT + ROOT_OPT,
        header(an=1) + QUESTION + QUESTION + b"\x00\x00\x00\x05\x00\x04\x7f\x00\x00\x01",
        header() + QUESTION[:-4] + b"\x00\x29\x00\x01",
        header(flags=0x2900) + QUESTION,
    ],
    ids=[
        "pointer", "two-questions", "trailing", "bad-cookie", "two-opts", "answer-record",
        "qtype-opt", "opcode",
    ],
)  # fmt: skip
def test_malformed_and_unusual_queries_are_answered_as_before_and_not_cached(
    handler: QueryHandler, wire: bytes
) -> None:
    for transport in Transport:
        for _ in range(2):
            assert_as_uncached(handler, wire, transport)
        assert handler.cached_entries(transport) == 0
        assert handler.cached_bytes(transport) == 0


def test_a_broken_twin_of_a_cached_query_is_not_given_its_answer(handler: QueryHandler) -> None:
    good = header(ar=1) + QUESTION + ROOT_OPT
    assert_as_uncached(handler, good)
    twins = [
        header(ar=1) + QUESTION + ROOT_OPT[:-2] + b"\x00\x0b\x00\x0a\x00\x07" + b"x" * 7,
        good + b"x",
        header(ar=2) + QUESTION + ROOT_OPT,
        header(ar=1) + QUESTION + b"\xc0\x0c" + ROOT_OPT[1:],
    ]
    for twin in twins:
        _, outcome = assert_as_uncached(handler, twin)
        assert outcome.malformed == "bad_wire"
    assert handler.cached_entries(UDP) == 1


@pytest.mark.parametrize("transport", [UDP, TCP])
def test_a_warm_cache_answers_every_query_as_the_uncached_path_does(
    zone: Zone, transport: Transport
) -> None:
    """Queries varied every way a client can vary them, a third broken by a few bytes."""
    warm = QueryHandler(zone)
    wires = mutants(seed=8906, count=1500)
    for wire in wires + wires:  # the second pass meets what the first one cached
        got = warm.respond(wire, transport)
        assert same_answer(got, uncached(zone, wire, transport)), wire.hex()
    assert warm.cached_entries(transport) > 50
