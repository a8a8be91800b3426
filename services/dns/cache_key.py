"""The answer cache's key, read from a query's bytes without dnspython.

Keyed by the raw bytes, the cache took a new entry for every byte a client varied
(the name's case, EDNS options, padding): one client pinned 413 MB. The key holds
what the answer depends on and nothing else:

    header  │ question                       │ OPT record (optional)
    RD bit  │ name lower-cased, type, class  │ EDNS version 0 or later, DO bit,
            │                                │ payload clamped to the limit it sets

The answer echoes the question as asked (0x20 resolvers check the case), so a hit
splices the client's own question bytes in; see ``QueryHandler.respond``.

``question_key`` reads only the usual shape: one question of plain labels, no other
records but one OPT, nothing after it. Anything else (a compression pointer or an
over-long name in the question, more questions, other records, trailing bytes, an
EDNS option dnspython would reject) gives None: the query takes the uncached path,
so a query it accepts is one dnspython parses, and a malformed query never meets a
cached answer.
"""

from __future__ import annotations

import struct

import dns.edns
import dns.wire

CacheKey = tuple[bytes, bytes, int, int, int, int]
"""Name (wire form, lower-cased), type and class (wire form), RD, EDNS (-1 none, 0
version 0, 1 later), DO, payload clamped (512 without EDNS)."""

CLASSIC_UDP_PAYLOAD = 512
"""RFC 1035's UDP limit, and the floor for any EDNS payload a client advertises."""

_HEADER = struct.Struct("!2x5H")  # flags and the four counts, after the id
_OPT = struct.Struct("!BHHBBHH")  # owner, type, payload, rcode, version, flags, length
_QTYPE = struct.Struct("!H")
_OPTION_HEADER = struct.Struct("!HH")
_QR_OR_OPCODE = 0xF800
_RD = 0x0100
_DO = 0x8000
_OPT_TYPE = 41
_FORMERR_QTYPES = frozenset({41, 249, 250})  # OPT, TKEY, TSIG: the handler's bad_question
_LAST_NAME_BYTE = 12 + 254  # a name is at most 255 bytes on the wire, root included
_COOKIE = dns.edns.OptionType.COOKIE
_NSID = dns.edns.OptionType.NSID


def question_key(wire: bytes, payload_cap: int) -> CacheKey | None:
    """The key for ``wire``'s answer, or None to answer it uncached.

    EDNS payloads are clamped to 512..``payload_cap`` bytes, the size limits they
    can set; where the payload sets no limit (TCP) pass 512 and every payload is
    one entry.
    """
    try:
        flags, questions, answers, authorities, additionals = _HEADER.unpack_from(wire)
        if flags & _QR_OR_OPCODE or questions != 1 or answers or authorities or additionals > 1:
            return None
        end = 12
        length = wire[end]
        while length:
            if length > 63:
                return None
            end += length + 1
            length = wire[end]
        if end > _LAST_NAME_BYTE:
            return None
        opt = end + 5
        if _QTYPE.unpack_from(wire, end + 1)[0] in _FORMERR_QTYPES or len(wire) < opt:
            return None
        name = wire[12 : end + 1].lower()
        if not additionals:
            if len(wire) != opt:
                return None
            return name, wire[end + 1 : opt], flags & _RD, -1, 0, CLASSIC_UDP_PAYLOAD
        root, rtype, payload, _, version, edns_flags, length = _OPT.unpack_from(wire, opt)
        options = opt + 11
        if root or rtype != _OPT_TYPE or len(wire) != options + length:
            return None
        if length and not _options_parse(wire, options):
            return None
    except (IndexError, struct.error):
        return None
    if payload > payload_cap:
        payload = payload_cap
    elif payload < CLASSIC_UDP_PAYLOAD:
        payload = CLASSIC_UDP_PAYLOAD
    later = 1 if version else 0
    return name, wire[end + 1 : opt], flags & _RD, later, edns_flags & _DO, payload


def _options_parse(wire: bytes, start: int) -> bool:
    """Whether the EDNS options from ``start`` to the end parse as dnspython parses them.

    Most options are opaque bytes to dnspython; the few it decodes are checked the
    way it checks them (a cookie by its length, without dnspython: resolvers send one
    with every query, and dnspython's reader costs more than the rest of a hit).
    """
    end = len(wire)
    while start < end:
        code, length = _OPTION_HEADER.unpack_from(wire, start)
        start += 4 + length
        if start > end:
            return False
        if code == _COOKIE:
            if not (length == 8 or 16 <= length <= 40):
                return False
        elif code != _NSID and dns.edns.get_option_class(code) is not dns.edns.GenericOption:
            if not _dnspython_accepts(code, wire[start - length : start]):
                return False
    return True


def _dnspython_accepts(code: int, data: bytes) -> bool:
    parser = dns.wire.Parser(data)
    try:
        dns.edns.option_from_wire_parser(dns.edns.OptionType.make(code), parser)
    except Exception:
        return False
    return parser.remaining() == 0
