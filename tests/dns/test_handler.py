from __future__ import annotations

import random
import struct

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import pytest
from dns.rdatatype import RdataType

from services.dns import Outcome, QueryHandler, Transport, Zone

UDP, TCP = Transport.UDP, Transport.TCP


@pytest.fixture
def handler(zone: Zone) -> QueryHandler:
    return QueryHandler(zone)


def ask(
    handler: QueryHandler,
    qname: str,
    rdtype: str = "A",
    transport: Transport = UDP,
    **kwargs: object,
) -> tuple[dns.message.Message, Outcome, int]:
    query = dns.message.make_query(qname, rdtype, **kwargs)  # type: ignore[arg-type]
    wire, outcome = handler.respond(query.to_wire(), transport)
    assert wire is not None
    response = dns.message.from_wire(wire)
    assert response.id == query.id
    return response, outcome, len(wire)


def test_answers_an_a_query_authoritatively(handler: QueryHandler) -> None:
    response, outcome, _ = ask(handler, "api-1.mesh.test.")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA and response.flags & dns.flags.QR
    assert not response.flags & dns.flags.RA
    assert [r.to_text() for r in response.answer[0]] == ["127.0.0.1"]
    assert response.answer[0].ttl == 5
    assert outcome == Outcome("A", "NOERROR")


def test_srv_answers_carry_target_addresses(handler: QueryHandler) -> None:
    response, outcome, _ = ask(handler, "_api._tcp.mesh.test.", "SRV")
    assert sorted(r.port for r in response.answer[0]) == [8081, 8082]
    assert {rrset.name.to_text() for rrset in response.additional} == {
        "api-1.mesh.test.",
        "api-2.mesh.test.",
    }
    assert outcome.qtype == "SRV"


def test_unknown_name_is_nxdomain_with_the_soa(handler: QueryHandler, zone: Zone) -> None:
    response, outcome, _ = ask(handler, "nope.mesh.test.")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.flags & dns.flags.AA
    assert not response.answer
    assert response.authority[0].rdtype == RdataType.SOA
    assert response.authority[0].ttl == zone.negative_soa.ttl
    assert outcome == Outcome("A", "NXDOMAIN")


@pytest.mark.parametrize(
    ("qname", "rdtype"), [("api-1.mesh.test.", "AAAA"), ("_tcp.mesh.test.", "A")]
)
def test_existing_name_other_type_is_nodata(handler: QueryHandler, qname: str, rdtype: str) -> None:
    response, outcome, _ = ask(handler, qname, rdtype)
    assert response.rcode() == dns.rcode.NOERROR
    assert not response.answer
    assert response.authority[0].rdtype == RdataType.SOA
    assert outcome.rcode == "NOERROR"


def test_names_outside_the_zone_are_refused(handler: QueryHandler) -> None:
    response, outcome, _ = ask(handler, "example.com.")
    assert response.rcode() == dns.rcode.REFUSED
    assert not response.flags & (dns.flags.AA | dns.flags.RA)
    assert not response.answer and not response.authority
    assert outcome == Outcome("A", "REFUSED")


def test_other_classes_and_zone_transfers_are_refused(handler: QueryHandler) -> None:
    chaos, _, _ = ask(handler, "version.mesh.test.", "TXT", rdclass=dns.rdataclass.CH)
    assert chaos.rcode() == dns.rcode.REFUSED
    axfr, outcome, _ = ask(handler, "mesh.test.", "AXFR", transport=TCP)
    assert axfr.rcode() == dns.rcode.REFUSED
    assert outcome.qtype == "OTHER"


def test_question_case_is_echoed(handler: QueryHandler) -> None:
    response, _, _ = ask(handler, "API-1.Mesh.TEST.")
    assert response.question[0].name.to_text() == "API-1.Mesh.TEST."
    assert response.answer


def test_any_is_minimal_over_udp_and_full_over_tcp(handler: QueryHandler) -> None:
    udp, outcome, _ = ask(handler, "mesh.test.", "ANY")
    tcp, _, _ = ask(handler, "mesh.test.", "ANY", transport=TCP)
    assert len(udp.answer) == 1
    assert {r.rdtype for r in tcp.answer} == {RdataType.SOA, RdataType.NS}
    assert outcome.qtype == "ANY"


def test_big_answer_is_truncated_over_classic_udp(handler: QueryHandler) -> None:
    response, outcome, size = ask(handler, "big.mesh.test.", "TXT")
    assert response.flags & dns.flags.TC
    assert not response.answer and not response.authority and not response.additional
    assert response.question[0].name.to_text() == "big.mesh.test."
    assert size <= 512
    assert outcome == Outcome("TXT", "NOERROR", truncated=True)


def test_big_answer_fits_an_edns_payload(handler: QueryHandler) -> None:
    response, outcome, size = ask(handler, "big.mesh.test.", "TXT", use_edns=0, payload=1232)
    assert not response.flags & dns.flags.TC
    assert len(response.answer[0]) == 8
    assert 512 < size <= 1232
    assert response.payload == 1232
    assert not outcome.truncated


def test_edns_payload_is_capped_and_floored(zone: Zone) -> None:
    small = QueryHandler(zone, max_udp_payload=600)
    response, _, _ = ask(small, "big.mesh.test.", "TXT", use_edns=0, payload=4096)
    assert response.flags & dns.flags.TC
    assert response.payload == 600
    tiny, _, size = ask(small, "api-1.mesh.test.", "A", use_edns=0, payload=100)
    assert tiny.answer and size > 0  # a payload under 512 is read as 512


def test_tcp_gets_the_whole_big_answer(handler: QueryHandler) -> None:
    response, outcome, _ = ask(handler, "big.mesh.test.", "TXT", transport=TCP)
    assert not response.flags & dns.flags.TC
    assert len(response.answer[0]) == 8
    assert not outcome.truncated


def test_additional_records_are_dropped_before_truncating(
    handler: QueryHandler, zone: Zone
) -> None:
    targets = [{"priority": 0, "weight": 0, "port": 80, "target": f"t{i}"} for i in range(12)]
    zone.replace("_many._tcp", "SRV", targets)
    for i in range(12):
        zone.replace(f"t{i}", "A", [f"10.0.0.{i}"])
    response, outcome, size = ask(handler, "_many._tcp.mesh.test.", "SRV")
    assert size <= 512
    assert len(response.answer[0]) == 12
    assert not response.additional
    assert not response.flags & dns.flags.TC and not outcome.truncated


def test_unsupported_edns_version_is_badvers(handler: QueryHandler) -> None:
    response, outcome, _ = ask(handler, "api-1.mesh.test.", use_edns=1)
    assert response.rcode() == dns.rcode.BADVERS
    assert response.edns == 0
    assert outcome.rcode == "BADVERS"


@pytest.mark.parametrize("opcode", [dns.opcode.NOTIFY, dns.opcode.UPDATE, dns.opcode.STATUS, 15])
def test_unsupported_opcodes_are_notimp(handler: QueryHandler, opcode: int) -> None:
    query = dns.message.make_query("mesh.test.", "SOA")
    query.flags = (query.flags & ~0x7800) | (opcode << 11)
    wire, outcome = handler.respond(query.to_wire(), UDP)
    assert wire is not None and len(wire) == 12
    qid, flags = struct.unpack("!HH", wire[:4])
    assert qid == query.id
    assert flags & 0xF == dns.rcode.NOTIMP
    assert (flags >> 11) & 0xF == opcode
    assert outcome == Outcome("OTHER", "NOTIMP")


def test_responses_are_dropped_not_answered(handler: QueryHandler) -> None:
    query = dns.message.make_query("api-1.mesh.test.", "A")
    query.flags |= dns.flags.QR
    assert handler.respond(query.to_wire(), UDP) == (None, Outcome(malformed="not_query"))


@pytest.mark.parametrize("wire", [b"", b"\x12", b"\x12\x34\x01\x00\x00"])
def test_shorter_than_a_header_is_dropped(handler: QueryHandler, wire: bytes) -> None:
    assert handler.respond(wire, UDP) == (None, Outcome(malformed="too_short"))


def pointer_loop(qid: int = 0xBEEF) -> bytes:
    """A question whose name is a compression pointer to itself (offset 12)."""
    return struct.pack("!6H", qid, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c" + b"\x00\x01\x00\x01"


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (pointer_loop(), "bad_pointer"),
        (struct.pack("!6H", 7, 0x0100, 1, 0, 0, 0) + b"\x03api", "bad_wire"),
        (dns.message.make_query("api-1.mesh.test.", "A").to_wire() + b"junk", "bad_wire"),
        (struct.pack("!6H", 7, 0x0100, 0, 0, 0, 0), "bad_question"),
        (dns.message.make_query("mesh.test.", "OPT").to_wire(), "bad_question"),
    ],
)
def test_malformed_queries_get_a_header_only_formerr(
    handler: QueryHandler, wire: bytes, reason: str
) -> None:
    response, outcome = handler.respond(wire, UDP)
    assert response is not None
    assert len(response) == 12 <= len(wire)
    assert response[:2] == wire[:2]
    assert struct.unpack("!H", response[2:4])[0] & 0x800F == 0x8000 | dns.rcode.FORMERR
    assert outcome == Outcome("OTHER", "FORMERR", malformed=reason)


def test_random_bytes_never_raise_or_amplify(handler: QueryHandler) -> None:
    rng = random.Random(8906)
    for _ in range(3000):
        wire = rng.randbytes(rng.randrange(0, 200))
        for transport in Transport:
            response, outcome = handler.respond(wire, transport)
            if outcome.malformed is not None or outcome.rcode == "NOTIMP":
                assert response is None or len(response) == 12


def test_cached_answers_get_the_new_id(handler: QueryHandler) -> None:
    first, _, _ = ask(handler, "api-2.mesh.test.")
    second, _, _ = ask(handler, "api-2.mesh.test.")  # ask() asserts each id
    assert first.answer == second.answer


def test_zone_changes_invalidate_cached_answers(handler: QueryHandler, zone: Zone) -> None:
    before, _, _ = ask(handler, "api-1.mesh.test.")
    zone.replace("api-1", "A", ["10.9.9.9"])
    after, _, _ = ask(handler, "api-1.mesh.test.")
    assert [r.to_text() for r in before.answer[0]] == ["127.0.0.1"]
    assert [r.to_text() for r in after.answer[0]] == ["10.9.9.9"]
    soa, _, _ = ask(handler, "mesh.test.", "SOA")
    assert soa.answer[0][0].serial == zone.serial == 2


def test_cache_is_bounded(zone: Zone) -> None:
    handler = QueryHandler(zone, cache_size=8)
    for i in range(50):
        ask(handler, f"n{i}.mesh.test.")
    assert max(handler.cached_entries(t) for t in Transport) <= 8


def test_the_cache_is_bounded_in_bytes_whatever_the_query_bytes(zone: Zone) -> None:
    """Found by a client varying the case of a large answer's name over TCP: 4,096
    entries of up to 64 KB per transport pinned 413 MB. Now the case shares one entry
    (the key is the parsed question), and the bytes are the bound."""
    bound = 64 * 1024
    handler = QueryHandler(zone, cache_bytes=bound)
    for i in range(512):
        qname = "".join(c.upper() if i >> k & 1 else c for k, c in enumerate("big.mesh.test."))
        response, _, _ = ask(handler, qname, "TXT", TCP)
        assert response.answer, qname
    assert 0 < handler.cached_bytes(TCP) <= bound
    assert handler.cached_entries(TCP) == 1
    assert handler.cached_bytes(UDP) == 0
    again, _, _ = ask(handler, "big.mesh.test.", "TXT", TCP)
    assert again.answer


@pytest.mark.parametrize("transport", [UDP, TCP])
def test_a_padded_query_gets_no_padding_back(zone: Zone, transport: Transport) -> None:
    """Padding belongs on encrypted transports; on plain DNS a padded 48-byte query
    got 468 bytes back, an amplifier."""
    import dns.edns

    handler = QueryHandler(zone)
    padding = dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"")
    query = dns.message.make_query("api-1.mesh.test.", "A", use_edns=0, options=[padding])
    wire = query.to_wire()
    response, outcome = handler.respond(wire, transport)
    assert response is not None and outcome.rcode == "NOERROR"
    message = dns.message.from_wire(response)
    assert all(o.otype != dns.edns.OptionType.PADDING for o in message.options)
    assert len(response) < 3 * len(wire)
