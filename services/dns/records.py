"""Admin/zone-file values <-> dnspython rdata, validated field by field.

The admin API and the YAML zone file share one vocabulary, so a value that ``GET
/records`` prints is a value ``POST /records`` and a zone file accept:

    A      "127.0.0.1"
    AAAA   "::1"
    NS     "ns"  or  "ns.mesh.test."            (relative to the zone origin)
    SRV    {priority, weight, port, target}     or "10 50 8081 api-1"
    TXT    "text"  or  ["chunk", "chunk", ...]  (one rdata; >255-byte strings are split)

Every failure is a ``FieldError`` naming the field, so a 400 can point at it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.rdatatype import RdataType
from dns.rdtypes.ANY.NS import NS
from dns.rdtypes.ANY.SOA import SOA
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA
from dns.rdtypes.IN.SRV import SRV

from services.common.errors import FieldError

IN = dns.rdataclass.IN

MAX_TTL = 604_800
"""Upper TTL bound, seconds (one week). RFC 2181 allows 2**31-1, but in a playground
whose point is watching clients re-resolve, a longer TTL is always a typo."""

EDITABLE_TYPES: tuple[RdataType, ...] = (
    RdataType.A,
    RdataType.AAAA,
    RdataType.NS,
    RdataType.SRV,
    RdataType.TXT,
)
"""SOA is left out: its serial belongs to the zone, only its TTL can be patched."""

_TXT_CHUNK = 255

Value = str | list[str] | dict[str, Any]


def parse_type(raw: object, *, field: str = "type", editable: bool = True) -> RdataType:
    """Resolve a type mnemonic; ``editable=False`` also admits SOA (for reads and TTLs)."""
    if not isinstance(raw, str):
        raise FieldError(field, "must be a record type such as A, AAAA, NS, SRV or TXT")
    try:
        rdtype = RdataType.make(raw.strip().upper())
    except (dns.rdatatype.UnknownRdatatype, ValueError):
        raise FieldError(field, f"unknown record type {raw!r}") from None
    allowed = EDITABLE_TYPES if editable else (*EDITABLE_TYPES, RdataType.SOA)
    if rdtype not in allowed:
        if rdtype == RdataType.SOA:
            raise FieldError(field, "SOA is managed by the zone (only its TTL can be changed)")
        names = ", ".join(t.name for t in allowed)
        raise FieldError(field, f"record type {raw!r} is not supported (supported: {names})")
    return rdtype


def parse_ttl(raw: object, *, field: str = "ttl") -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise FieldError(field, "must be an integer number of seconds")
    if not 0 <= raw <= MAX_TTL:
        raise FieldError(field, f"must be between 0 and {MAX_TTL} seconds, got {raw}")
    return raw


def parse_name(raw: object, origin: dns.name.Name, *, field: str = "name") -> dns.name.Name:
    """Accept ``@``, relative (``api-1``) and absolute names, with or without the final dot.

    ``api-1.mesh.test`` (no dot) means the absolute name, not ``api-1.mesh.test.mesh.test.``:
    nobody types the latter on purpose.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise FieldError(field, "must be a non-empty domain name")
    text = raw.strip()
    try:
        if text == "@":
            name = origin
        elif text.endswith("."):
            name = dns.name.from_text(text)
        else:
            relative = dns.name.from_text(text, origin=None)
            as_absolute = relative.concatenate(dns.name.root)
            name = as_absolute if as_absolute.is_subdomain(origin) else relative.concatenate(origin)
    except dns.exception.DNSException as exc:
        raise FieldError(field, f"{raw!r} is not a valid domain name: {exc}") from None
    if not name.is_subdomain(origin):
        raise FieldError(field, f"{raw!r} is outside the zone {origin}")
    if any(label == b"*" for label in name.labels):
        raise FieldError(field, "wildcard names are not supported")
    return name


def parse_values(
    rdtype: RdataType, raw: object, origin: dns.name.Name, *, field: str = "values"
) -> list[dns.rdata.Rdata]:
    """Parse a non-empty list of values; duplicates collapse, as in any RRset."""
    if not isinstance(raw, list) or not raw:
        raise FieldError(field, "must be a non-empty list of values")
    out: list[dns.rdata.Rdata] = []
    for i, item in enumerate(raw):
        rdata = parse_value(rdtype, item, origin, field=f"{field}[{i}]")
        if rdata not in out:
            out.append(rdata)
    return out


def parse_value(
    rdtype: RdataType, raw: object, origin: dns.name.Name, *, field: str = "value"
) -> dns.rdata.Rdata:
    if rdtype == RdataType.A:
        return _rdata(rdtype, str(_ip(raw, ipaddress.IPv4Address, field)))
    if rdtype == RdataType.AAAA:
        return _rdata(rdtype, str(_ip(raw, ipaddress.IPv6Address, field)))
    if rdtype == RdataType.NS:
        return _rdata(rdtype, parse_target(raw, origin, field=field).to_text())
    if rdtype == RdataType.SRV:
        return _srv(raw, origin, field)
    if rdtype == RdataType.TXT:
        return TXT(IN, rdtype, _txt_strings(raw, field))
    raise FieldError("type", f"values of type {rdtype.name} cannot be set")


def render_value(rdata: dns.rdata.Rdata) -> Value:
    """The inverse of ``parse_value`` (names absolute, so output never depends on context)."""
    if isinstance(rdata, A | AAAA):
        return str(rdata.address)
    if isinstance(rdata, NS):
        return rdata.target.to_text()
    if isinstance(rdata, SRV):
        return {
            "priority": rdata.priority,
            "weight": rdata.weight,
            "port": rdata.port,
            "target": rdata.target.to_text(),
        }
    if isinstance(rdata, TXT):
        strings = [s.decode("utf-8", "backslashreplace") for s in rdata.strings]
        return strings[0] if len(strings) == 1 else strings
    if isinstance(rdata, SOA):
        return {
            "mname": rdata.mname.to_text(),
            "rname": rdata.rname.to_text(),
            "serial": rdata.serial,
            "refresh": rdata.refresh,
            "retry": rdata.retry,
            "expire": rdata.expire,
            "minimum": rdata.minimum,
        }
    return str(rdata.to_text())


def _rdata(rdtype: RdataType, text: str) -> dns.rdata.Rdata:
    """Build from already-validated presentation text (dnspython's typed constructor)."""
    return dns.rdata.from_text(IN, rdtype, text)


def _ip(
    raw: object,
    kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address],
    field: str,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    label = "IPv4" if kind is ipaddress.IPv4Address else "IPv6"
    if not isinstance(raw, str):
        raise FieldError(field, f"must be an {label} address as a string")
    try:
        return kind(raw.strip())
    except ValueError:
        raise FieldError(field, f"{raw!r} is not an {label} address") from None


def parse_target(raw: object, origin: dns.name.Name, *, field: str) -> dns.name.Name:
    """Targets may point outside the zone (an SRV at another domain), unlike owner names."""
    if not isinstance(raw, str) or not raw.strip():
        raise FieldError(field, "must be a domain name")
    text = raw.strip()
    try:
        if text == "@":
            return origin
        if text.endswith("."):
            return dns.name.from_text(text)
        return parse_name(text, origin, field=field)
    except dns.exception.DNSException as exc:
        raise FieldError(field, f"{raw!r} is not a valid domain name: {exc}") from None


_SRV_FIELDS = ("priority", "weight", "port", "target")


def _srv(raw: object, origin: dns.name.Name, field: str) -> dns.rdata.Rdata:
    if isinstance(raw, str):
        parts = raw.split()
        if len(parts) != 4:
            raise FieldError(field, "an SRV value is 'priority weight port target'")
        numbers: list[object] = []
        for part in parts[:3]:
            # ASCII only: int() also reads Arabic-Indic and other Unicode digits.
            numbers.append(int(part) if part.isascii() and part.isdigit() else part)
        values: Mapping[str, object] = dict(zip(_SRV_FIELDS, [*numbers, parts[3]], strict=True))
    elif isinstance(raw, Mapping):
        values = raw
    else:
        raise FieldError(field, "must be an object {priority, weight, port, target} or a string")
    for key in values:
        if key not in _SRV_FIELDS:
            raise FieldError(f"{field}.{key}", "unknown field")
    ints: list[int] = []
    for key in _SRV_FIELDS[:3]:
        value = values.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
            raise FieldError(f"{field}.{key}", "must be an integer between 0 and 65535")
        ints.append(value)
    target = parse_target(values.get("target"), origin, field=f"{field}.target")
    return _rdata(RdataType.SRV, f"{ints[0]} {ints[1]} {ints[2]} {target.to_text()}")


def _txt_strings(raw: object, field: str) -> list[bytes]:
    items: Sequence[object] = (
        [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else ()
    )
    if not items:
        raise FieldError(field, "must be a string or a non-empty list of strings")
    out: list[bytes] = []
    for item in items:
        if not isinstance(item, str):
            raise FieldError(field, "TXT strings must be strings")
        try:
            data = item.encode("utf-8")
        except UnicodeEncodeError:
            raise FieldError(field, "a TXT string holds a lone surrogate") from None
        out.extend(data[i : i + _TXT_CHUNK] for i in range(0, len(data), _TXT_CHUNK))
        if not data:
            out.append(b"")
    return out
