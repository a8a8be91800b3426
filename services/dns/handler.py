"""Query bytes in, response bytes out: the whole DNS behaviour, with no sockets.

    wire ──► the bytes of a query already cached? ──yes──► id + cached answer
               │ no
               ▼
      cache key (cache_key.py) ── None: unusual or malformed ──► answer uncached, keep nothing
               │
               ▼
      key cached? ──yes──► id + cached header + the query's own question + cached rest
               │ no
               ▼
      header checks ── too short / QR set ──► drop (count)
               │       opcode ≠ QUERY    ──► NOTIMP, header only
               ▼
      dnspython parse ── fails ──► FORMERR, header only (never larger than the query)
               ▼
      zone lookup ──► NOERROR / NODATA / NXDOMAIN / REFUSED
               ▼
      render within the size limit ── too big ──► drop additional, then TC=1 + question

An answer depends on the zone and on little of the query: the question (the name's
case aside), RD, whether EDNS is there and its version, DO, and the size limit the
payload sets over UDP. The cache is keyed by those, read from the bytes by hand; the
id, the name's case, EDNS options and padding share one entry. A hit splices the id
and the question as the client spelled it into the cached answer, so a 0x20 resolver
sees its own case echoed. Each entry also keeps the bytes after the id of the query
that filled it, one query per entry: a client repeating itself, the usual case, costs
a dict lookup and a concatenation and reads no key. A query the key reader does not
vouch for is answered uncached, as on a miss, and never cached.

The cache is dropped whenever the zone serial moves, and when it would pass
``cache_size`` entries or ``cache_bytes`` bytes per transport (queries, question
names and answers counted): a client can churn it, never grow it.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from enum import StrEnum

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rrset
from dns.rdatatype import RdataType

from services.dns.cache_key import CLASSIC_UDP_PAYLOAD, CacheKey, question_key
from services.dns.records import IN
from services.dns.zone import Zone

log = logging.getLogger(__name__)

HEADER_SIZE = 12
DEFAULT_MAX_UDP_PAYLOAD = 1232
"""The DNS Flag Day 2020 size: fits the IPv6 minimum MTU, so no IP fragmentation."""
TCP_MAX_MESSAGE = 65535
DEFAULT_CACHE_BYTES = 4 << 20
"""Per transport: 4 MiB, some hundred large TXT answers over TCP, thousands of small."""

QTYPE_LABELS = ("A", "AAAA", "SRV", "TXT", "SOA", "NS", "ANY", "OTHER")
MALFORMED_REASONS = ("too_short", "not_query", "bad_pointer", "bad_wire", "bad_question")

_QR = 0x8000
_OPCODE_MASK = 0x7800
_RD = 0x0100
_HEADER = struct.Struct("!HH")
_META_TYPES = frozenset({RdataType.OPT, RdataType.TSIG, RdataType.TKEY})
_TRANSFER_TYPES = frozenset({RdataType.AXFR, RdataType.IXFR})
_ADDRESS_TYPES = (RdataType.A, RdataType.AAAA)


class Transport(StrEnum):
    UDP = "udp"
    TCP = "tcp"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one packet, as bounded metric labels.

    ``rcode`` is None when the packet was dropped without an answer.
    """

    qtype: str = "OTHER"
    rcode: str | None = None
    truncated: bool = False
    malformed: str | None = None


_Cached = tuple[bytes, int, Outcome]
"""An answer after its id, where its question ends, and what to count."""


@dataclass(slots=True)
class _Table:
    """One transport's cached answers: by ``CacheKey``, and ``verbatim`` by the bytes
    after the id of the query that filled each, so a plain repeat skips the key."""

    payload_cap: int
    answers: dict[CacheKey, _Cached] = field(default_factory=dict)
    verbatim: dict[bytes, _Cached] = field(default_factory=dict)
    held: int = 0

    def clear(self) -> None:
        self.answers.clear()
        self.verbatim.clear()
        self.held = 0


class QueryHandler:
    """Answers queries for one zone; the transports call ``respond`` per message."""

    def __init__(
        self,
        zone: Zone,
        *,
        max_udp_payload: int = DEFAULT_MAX_UDP_PAYLOAD,
        cache_size: int = 4096,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        if not CLASSIC_UDP_PAYLOAD <= max_udp_payload <= TCP_MAX_MESSAGE:
            raise ValueError(f"max_udp_payload must be 512..65535 bytes, got {max_udp_payload}")
        self.zone = zone
        self.max_udp_payload = max_udp_payload
        self._cache_size = cache_size
        self._cache_bytes = cache_bytes
        # Over TCP the payload sets no limit: the floor makes every payload one entry.
        self._tables = {
            Transport.UDP: _Table(max_udp_payload),
            Transport.TCP: _Table(CLASSIC_UDP_PAYLOAD),
        }
        self._cached_serial = zone.serial

    def cached_bytes(self, transport: Transport) -> int:
        """Bytes of queries, question names and answers the cache holds for ``transport``."""
        return self._tables[transport].held

    def cached_entries(self, transport: Transport) -> int:
        """Answers the cache holds for ``transport``."""
        return len(self._tables[transport].answers)

    def respond(self, wire: bytes, transport: Transport) -> tuple[bytes | None, Outcome]:
        """The response to send (None: send nothing) and what to count."""
        if self.zone.serial != self._cached_serial:
            self._cached_serial = self.zone.serial
            for table in self._tables.values():
                table.clear()
        table = self._tables[transport]
        hit = table.verbatim.get(wire[2:])
        if hit is not None:
            return wire[:2] + hit[0], hit[2]
        key = question_key(wire, table.payload_cap)
        if key is None:
            response, outcome, _ = self._respond_uncached(wire, transport)
            return response, outcome
        hit = table.answers.get(key)
        if hit is not None:
            answer, question_end, outcome = hit
            question = wire[HEADER_SIZE:question_end]
            return wire[:2] + answer[:10] + question + answer[question_end - 2 :], outcome
        response, outcome, cacheable = self._respond_uncached(wire, transport)
        if cacheable and response is not None:
            self._store(table, key, wire, response, outcome)
        return response, outcome

    def _store(
        self, table: _Table, key: CacheKey, wire: bytes, response: bytes, outcome: Outcome
    ) -> None:
        question_end = HEADER_SIZE + len(key[0]) + 4
        if response[HEADER_SIZE:question_end] != wire[HEADER_SIZE:question_end]:
            return  # the question is not echoed where a hit splices it in: never cache
        size = len(wire) + len(key[0]) + len(response)
        if table.held + size > self._cache_bytes or len(table.answers) >= self._cache_size:
            table.clear()
        if size <= self._cache_bytes:
            cached = (response[2:], question_end, outcome)
            table.answers[key] = cached
            table.verbatim[wire[2:]] = cached
            table.held += size

    def _respond_uncached(
        self, wire: bytes, transport: Transport
    ) -> tuple[bytes | None, Outcome, bool]:
        if len(wire) < HEADER_SIZE:
            return None, Outcome(malformed="too_short"), False
        qid, flags = _HEADER.unpack_from(wire)
        if flags & _QR:
            return None, Outcome(malformed="not_query"), False
        if (flags & _OPCODE_MASK) >> 11 != dns.opcode.QUERY:
            return _header_only(qid, flags, dns.rcode.NOTIMP), Outcome(rcode="NOTIMP"), False
        try:
            query = dns.message.from_wire(wire)
        except dns.name.BadPointer:
            return _formerr(qid, flags, "bad_pointer")
        except Exception:
            return _formerr(qid, flags, "bad_wire")
        if len(query.question) != 1 or query.question[0].rdtype in _META_TYPES:
            return _formerr(qid, flags, "bad_question")
        try:
            response, outcome = self._answer(query, transport)
        except Exception:
            log.exception("failed to answer a query; sending SERVFAIL")
            servfail = _header_only(qid, flags, dns.rcode.SERVFAIL)
            return servfail, Outcome(rcode="SERVFAIL"), False
        return response, outcome, True

    def _answer(self, query: dns.message.Message, transport: Transport) -> tuple[bytes, Outcome]:
        question = query.question[0]
        qtype = RdataType(question.rdtype)
        label = qtype.name if qtype.name in QTYPE_LABELS else "OTHER"
        # pad=0: padding (RFC 8467) is for encrypted transports; on plain UDP it only
        # amplifies (a padded 48-byte query got 468 bytes back).
        response = dns.message.make_response(query, our_payload=self.max_udp_payload, pad=0)
        if query.edns > 0:
            response.set_rcode(dns.rcode.BADVERS)
        elif question.rdclass != IN or not question.name.is_subdomain(self.zone.origin):
            response.set_rcode(dns.rcode.REFUSED)
        elif qtype in _TRANSFER_TYPES:
            response.set_rcode(dns.rcode.REFUSED)
        else:
            response.flags |= dns.flags.AA
            self._lookup(response, question.name, qtype, transport)
        limit = self._size_limit(query, transport)
        rcode = dns.rcode.to_text(response.rcode())
        try:
            return response.to_wire(max_size=limit), Outcome(label, rcode)
        except dns.exception.TooBig:
            pass
        if response.additional:
            response.additional = []
            try:
                return response.to_wire(max_size=limit), Outcome(label, rcode)
            except dns.exception.TooBig:
                pass
        response.answer = []
        response.authority = []
        response.additional = []
        response.flags |= dns.flags.TC
        return response.to_wire(max_size=limit), Outcome(label, rcode, truncated=True)

    def _lookup(
        self,
        response: dns.message.Message,
        qname: dns.name.Name,
        qtype: RdataType,
        transport: Transport,
    ) -> None:
        node = self.zone.node(qname)
        if node is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self.zone.negative_soa)
            return
        if qtype == RdataType.ANY:
            # RFC 8482: a minimal answer over UDP keeps ANY from being an amplifier.
            found = list(node.values())
            answer = found[:1] if transport is Transport.UDP else found
        else:
            rrset = node.get(qtype)
            answer = [] if rrset is None else [rrset]
        if not answer:
            response.authority.append(self.zone.negative_soa)
            return
        response.answer.extend(answer)
        response.additional.extend(self._glue(answer))

    def _glue(self, answer: list[dns.rrset.RRset]) -> list[dns.rrset.RRset]:
        """In-zone addresses of SRV and NS targets, saving the client a round trip."""
        out: list[dns.rrset.RRset] = []
        for rrset in answer:
            if rrset.rdtype not in (RdataType.SRV, RdataType.NS):
                continue
            for rdata in rrset:
                target = self.zone.node(rdata.target)
                for kind in _ADDRESS_TYPES:
                    glue = None if target is None else target.get(kind)
                    if glue is not None and glue not in out:
                        out.append(glue)
        return out

    def _size_limit(self, query: dns.message.Message, transport: Transport) -> int:
        if transport is Transport.TCP:
            return TCP_MAX_MESSAGE
        if query.edns < 0:
            return CLASSIC_UDP_PAYLOAD
        return max(CLASSIC_UDP_PAYLOAD, min(query.payload, self.max_udp_payload))


def _header_only(qid: int, flags: int, rcode: int) -> bytes:
    """A 12-byte answer: id, QR, the query's opcode and RD, an rcode, no records."""
    reply_flags = _QR | (flags & (_OPCODE_MASK | _RD)) | (rcode & 0xF)
    return struct.pack("!6H", qid, reply_flags, 0, 0, 0, 0)


def _formerr(qid: int, flags: int, reason: str) -> tuple[bytes, Outcome, bool]:
    response = _header_only(qid, flags, dns.rcode.FORMERR)
    return response, Outcome("OTHER", "FORMERR", malformed=reason), False
