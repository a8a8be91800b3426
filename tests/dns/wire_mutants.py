"""Queries for the cache tests: well-formed ones varied in every way a client can
vary them, and some broken a few bytes at a time."""

from __future__ import annotations

import random
import struct

import dns.edns
import dns.flags
import dns.message

NAMES = (
    "api-1.mesh.test.",
    "_api._tcp.mesh.test.",
    "big.mesh.test.",
    "nope.mesh.test.",
    "mesh.test.",
    "example.com.",
)
TYPES = ("A", "AAAA", "SRV", "TXT", "SOA", "NS", "ANY", "HTTPS", "AXFR")
PAYLOADS = (0, 100, 512, 600, 1000, 1232, 1400, 4096, 65535)

QUESTION = b"\x05api-1\x04mesh\x04test\x00\x00\x01\x00\x01"
"""api-1.mesh.test. A IN, for queries built by hand."""
ROOT_OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
"""EDNS0, 1,232-byte payload, no flags, no options."""


def header(qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0, flags: int = 0x0100) -> bytes:
    """A query header with id 7 and the given counts; RD by default."""
    return struct.pack("!6H", 7, flags, qd, an, ns, ar)


def respell(rng: random.Random, name: str) -> str:
    """``name`` in a random mix of cases, as a 0x20 resolver sends it."""
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in name)


def option(rng: random.Random) -> dns.edns.Option:
    """One EDNS option, sometimes one dnspython would reject (a cookie of a bad length)."""
    kind = rng.randrange(6)
    if kind == 0:
        return dns.edns.GenericOption(dns.edns.OptionType.COOKIE, rng.randbytes(rng.randrange(49)))
    if kind == 1:
        return dns.edns.GenericOption(dns.edns.OptionType.PADDING, bytes(rng.randrange(64)))
    if kind == 2:
        return dns.edns.GenericOption(dns.edns.OptionType.NSID, b"")
    if kind == 3:
        return dns.edns.ECSOption("192.0.2.0", rng.choice((0, 16, 24)))
    if kind == 4:
        return dns.edns.GenericOption(dns.edns.OptionType.ECS, rng.randbytes(rng.randrange(12)))
    return dns.edns.GenericOption(65001, rng.randbytes(rng.randrange(16)))


def well_formed(rng: random.Random) -> bytes:
    """A query as some client might send it: any id, case, RD, EDNS, DO, options."""
    query = dns.message.make_query(respell(rng, rng.choice(NAMES)), rng.choice(TYPES))
    query.id = rng.randrange(1 << 16)
    if rng.random() < 0.5:
        query.flags &= ~dns.flags.RD
    if rng.random() < 0.3:
        query.flags |= dns.flags.CD | dns.flags.AD
    if rng.random() < 0.7:
        query.use_edns(
            1 if rng.random() < 0.1 else 0,
            dns.flags.DO if rng.random() < 0.5 else 0,
            rng.choice(PAYLOADS),
            options=[option(rng) for _ in range(rng.randrange(3))],
        )
    return query.to_wire()


def broken(rng: random.Random, wire: bytes) -> bytes:
    """``wire`` with a few bytes changed, cut, added or dropped (never the id)."""
    data = bytearray(wire)
    for _ in range(rng.randrange(1, 4)):
        kind = rng.randrange(5)
        at = rng.randrange(2, len(data)) if len(data) > 2 else 2
        if kind == 0 and at < len(data):
            data[at] = rng.randrange(256)
        elif kind == 1:
            del data[at:]
        elif kind == 2:
            data[at:at] = rng.randbytes(rng.randrange(1, 4))
        elif kind == 3 and at < len(data):
            del data[at]
        elif len(data) >= 12:
            data[rng.randrange(4, 12)] = rng.randrange(3)  # a count of 0, 1 or 2
    return bytes(data)


def mutants(seed: int, count: int) -> list[bytes]:
    """``count`` queries, a third of them broken; the same list for the same seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        wire = well_formed(rng)
        out.append(broken(rng, wire) if rng.random() < 0.35 else wire)
    return out
