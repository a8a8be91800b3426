from __future__ import annotations

import random
import struct

import dns.edns
import dns.flags
import dns.message
import dns.rdataclass
import pytest

from services.dns.cache_key import CacheKey, question_key
from tests.dns.wire_mutants import QUESTION, ROOT_OPT, header, mutants, well_formed

CAP = 1232


def wire(
    qname: str = "api-1.mesh.test.", rdtype: str = "A", qid: int = 1, **kwargs: object
) -> bytes:
    query = dns.message.make_query(qname, rdtype, **kwargs)  # type: ignore[arg-type]
    query.id = qid
    return query.to_wire()


def key(data: bytes, cap: int = CAP) -> CacheKey:
    found = question_key(data, cap)
    assert found is not None
    return found


def expected_key(data: bytes, cap: int) -> CacheKey | None:
    """The key as dnspython reads the query: None where the handler answers FORMERR."""
    try:
        message = dns.message.from_wire(data)
    except Exception:
        return None
    if len(message.question) != 1 or message.question[0].rdtype in (41, 249, 250):
        return None
    question = message.question[0]
    edns = -1 if message.edns < 0 else min(message.edns, 1)
    payload = 512 if message.edns < 0 else max(512, min(message.payload, cap))
    return (
        question.name.to_wire().lower(),
        struct.pack("!HH", question.rdtype, question.rdclass),
        message.flags & dns.flags.RD,
        edns,
        message.ednsflags & dns.flags.DO if message.edns >= 0 else 0,
        payload,
    )


def test_id_case_and_edns_options_do_not_change_the_key() -> None:
    cookie = dns.edns.CookieOption(b"clientck", b"")
    other = dns.edns.CookieOption(b"another!", b"server-cookie-16")
    padding = dns.edns.GenericOption(dns.edns.OptionType.PADDING, bytes(40))
    edns = [
        wire(use_edns=0, payload=1232),
        wire(qid=2, use_edns=0, payload=1232, options=[cookie]),
        wire(qid=3, use_edns=0, payload=1232, options=[other, padding]),
        wire("API-1.Mesh.TEST.", qid=4, use_edns=0, payload=1232, options=[padding]),
    ]
    assert len({key(w) for w in edns}) == 1
    assert key(wire(qid=5)) == key(wire("aPi-1.MESH.test.", qid=6))


@pytest.mark.parametrize(
    "other",
    [
        wire(rdtype="AAAA"),
        wire("api-2.mesh.test."),
        wire(rdclass=dns.rdataclass.CH),
        wire(use_edns=0, payload=512),
        wire(use_edns=1, payload=512),
        wire(use_edns=0, payload=512, want_dnssec=True),
        wire(flags=0),
    ],
    ids=["type", "name", "class", "edns", "edns-version", "do", "rd"],
)
def test_what_changes_the_answer_changes_the_key(other: bytes) -> None:
    assert key(other) != key(wire())


def test_payloads_are_clamped_to_the_limits_they_can_set() -> None:
    sizes = {p: key(wire(use_edns=0, payload=p), cap=1232)[5] for p in (0, 512, 1000, 1232, 4096)}
    assert sizes == {0: 512, 512: 512, 1000: 1000, 1232: 1232, 4096: 1232}
    assert {key(wire(use_edns=0, payload=p), cap=512) for p in (0, 1000, 65535)} == {
        key(wire(use_edns=0, payload=512), cap=512)
    }


@pytest.mark.parametrize(
    "data",
    [
        b"",
        header()[:11],
        header(),
        header() + b"\xc0\x0c\x00\x01\x00\x01",  # compression pointer in the question
        header() + b"\x05api-1\xc0\x0c\x00\x01\x00\x01",
        header() + b"\x41" + b"a" * 65 + b"\x00\x00\x01\x00\x01",  # label type 01
        header() + b"\x3f" + b"a" * 63 + b"\x3f" + b"b" * 63 + b"\x3f" + b"c" * 63
        + b"\x3f" + b"d" * 63 + b"\x00\x00\x01\x00\x01",  # 257 bytes: too long
        header(qd=2) + QUESTION + QUESTION,
        header(qd=0),
        header(an=1) + QUESTION,
        header(flags=0x8100) + QUESTION,  # a response
        header(flags=0x2900) + QUESTION,  # opcode UPDATE
        header() + QUESTION + b"junk",
        header() + QUESTION[:-1],
        header(ar=1) + QUESTION,
        header(ar=2) + QUESTION + ROOT_OPT + ROOT_OPT,
        header(ar=1) + QUESTION + b"\x01a" + ROOT_OPT[1:],  # OPT not owned by the root
        header(ar=1) + QUESTION + ROOT_OPT[:-2] + b"\x00\x04" + b"\xfd\xe9\x00\x01",
        header(ar=1) + QUESTION + ROOT_OPT[:-2] + b"\x00\x0b\x00\x0a\x00\x07" + b"x" * 7,
        header(ar=1) + QUESTION + ROOT_OPT + b"x",
        header() + QUESTION[:-4] + b"\x00\x29\x00\x01",  # question type OPT
        header() + QUESTION[:-4] + b"\x00\xfa\x00\x01",  # TSIG
    ],
    ids=[
        "empty", "short", "no-question", "pointer", "pointer-suffix", "label-type",
        "long-name", "two-questions", "zero-questions", "answer-record", "qr", "opcode",
        "trailing", "cut", "missing-opt", "two-opts", "opt-owner", "option-overrun",
        "bad-cookie", "after-opt", "qtype-opt", "qtype-tsig",
    ],
)  # fmt: skip
def test_unusual_or_malformed_queries_have_no_key(data: bytes) -> None:
    assert question_key(data, CAP) is None


def test_the_hand_built_query_has_a_key() -> None:
    """The fixtures above are one change away from a keyed query."""
    assert question_key(header() + QUESTION, CAP) is not None
    assert question_key(header(ar=1) + QUESTION + ROOT_OPT, CAP) is not None


@pytest.mark.parametrize("cap", [512, 1232])
def test_a_key_is_given_only_to_queries_dnspython_reads_the_same(cap: int) -> None:
    keyed = rejected = 0
    for data in mutants(seed=1204, count=3000):
        found = question_key(data, cap)
        expected = expected_key(data, cap)
        keyed += found is not None
        rejected += expected is None
        if found is not None:
            assert found == expected, data.hex()
    assert keyed > 1000 and rejected > 300


def test_every_well_formed_query_dnspython_reads_has_a_key() -> None:
    rng = random.Random(77)
    for _ in range(2000):
        data = well_formed(rng)
        assert question_key(data, CAP) == expected_key(data, CAP), data.hex()
