"""The zone: RRsets by owner name and type, plus the SOA whose serial marks every change.

Plain data, no I/O and no locks: the event loop is the only writer, so the query
path can read it without coordination. ``serial`` doubles as the cache key that
tells the query handler its rendered answers are stale.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rrset
import yaml
from dns.rdatatype import RdataType

from services.common.errors import FieldError
from services.dns import records
from services.dns.records import IN

DEFAULT_ORIGIN = "mesh.test."
DEFAULT_TTL = 30
_SERIAL_MODULUS = 2**32


@dataclass(frozen=True, slots=True)
class SOAFields:
    """SOA timers, seconds (RFC 1035 3.3.13). ``minimum`` is the negative-caching TTL (RFC 2308)."""

    mname: str = "ns"
    rname: str = "hostmaster"
    refresh: int = 3600
    retry: int = 600
    expire: int = 86400
    minimum: int = 30
    ttl: int = 60


@dataclass(frozen=True, slots=True)
class RRsetView:
    """One RRset as the admin API and the zone file show it."""

    name: str
    type: str
    ttl: int
    values: list[records.Value]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "ttl": self.ttl, "values": self.values}


Node = Mapping[RdataType, dns.rrset.RRset]


class Zone:
    """An authoritative zone whose records can change while it is served.

    Mutators return whether anything changed; only a change bumps the serial, so
    an admin retrying the same request (the network is not reliable) is harmless.
    """

    def __init__(
        self,
        origin: str = DEFAULT_ORIGIN,
        *,
        serial: int = 1,
        soa: SOAFields | None = None,
        default_ttl: int = DEFAULT_TTL,
    ) -> None:
        if not isinstance(origin, str):
            raise FieldError("origin", "must be a domain name")
        try:
            self.origin = dns.name.from_text(origin)
        except dns.exception.DNSException as exc:
            raise FieldError("origin", f"{origin!r} is not a valid domain name: {exc}") from None
        if isinstance(serial, bool) or not isinstance(serial, int):
            raise FieldError("serial", "must be an integer")
        if not 0 <= serial < _SERIAL_MODULUS:
            raise FieldError("serial", f"must be between 0 and {_SERIAL_MODULUS - 1}")
        self.default_ttl = records.parse_ttl(default_ttl, field="default_ttl")
        self._soa_fields = soa or SOAFields()
        self._serial = serial
        self._nodes: dict[dns.name.Name, dict[RdataType, dns.rrset.RRset]] = {}
        self._empty_nonterminals: frozenset[dns.name.Name] = frozenset()
        self._soa = self._render_soa()
        self._negative_soa = self._render_negative_soa()
        self._nodes[self.origin] = {RdataType.SOA: self._soa}

    # -- loading ------------------------------------------------------------

    @classmethod
    def default(cls) -> Zone:
        """The mesh's zone, from the packaged ``default_zone.yaml``."""
        text = resources.files("services.dns").joinpath("default_zone.yaml").read_text("utf-8")
        return cls.from_yaml(text)

    @classmethod
    def from_file(cls, path: str | PathLike[str]) -> Zone:
        """Load a YAML zone file; raises OSError, or ValueError naming the bad field."""
        return cls.from_yaml(Path(path).read_text("utf-8"))

    @classmethod
    def from_yaml(cls, text: str) -> Zone:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"not valid YAML: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: object) -> Zone:
        """Build from the zone-file shape (see ``default_zone.yaml``); unknown keys are errors."""
        if not isinstance(data, dict):
            raise FieldError("zone", "must be a mapping with origin, soa and records")
        _reject_unknown(data, ("origin", "serial", "default_ttl", "soa", "records"), "")
        soa_data = data.get("soa", {})
        if not isinstance(soa_data, dict):
            raise FieldError("soa", "must be a mapping")
        _reject_unknown(soa_data, SOAFields.__dataclass_fields__, "soa.")
        defaults = SOAFields()
        soa_values: dict[str, Any] = {}
        for key in SOAFields.__dataclass_fields__:
            value = soa_data.get(key, getattr(defaults, key))
            if key in ("mname", "rname"):
                if not isinstance(value, str):
                    raise FieldError(f"soa.{key}", "must be a domain name")
            else:
                records.parse_ttl(value, field=f"soa.{key}")
            soa_values[key] = value
        zone = cls(
            data.get("origin", DEFAULT_ORIGIN),
            serial=data.get("serial", 1),
            soa=SOAFields(**soa_values),
            default_ttl=data.get("default_ttl", DEFAULT_TTL),
        )
        entries = data.get("records", [])
        if not isinstance(entries, list):
            raise FieldError("records", "must be a list")
        for i, entry in enumerate(entries):
            where = f"records[{i}]"
            if not isinstance(entry, dict):
                raise FieldError(where, "must be a mapping with name, type, ttl and values")
            _reject_unknown(entry, ("name", "type", "ttl", "values"), f"{where}.")
            zone.add(
                _required(entry, "name", where),
                _required(entry, "type", where),
                _required(entry, "values", where),
                ttl=entry.get("ttl"),
                field_prefix=f"{where}.",
                bump=False,
            )
        return zone

    def to_dict(self) -> dict[str, Any]:
        """The zone-file shape; ``Zone.from_dict(z.to_dict())`` rebuilds an equal zone."""
        fields = self._soa_fields
        return {
            "origin": self.origin.to_text(),
            "serial": self._serial,
            "default_ttl": self.default_ttl,
            "soa": {
                "mname": fields.mname,
                "rname": fields.rname,
                "refresh": fields.refresh,
                "retry": fields.retry,
                "expire": fields.expire,
                "minimum": fields.minimum,
                "ttl": self._soa.ttl,
            },
            "records": [v.to_dict() for v in self.rrsets() if v.type != "SOA"],
        }

    # -- the query side -----------------------------------------------------

    @property
    def serial(self) -> int:
        return self._serial

    @property
    def soa(self) -> dns.rrset.RRset:
        return self._soa

    @property
    def negative_soa(self) -> dns.rrset.RRset:
        """The SOA for NXDOMAIN/NODATA authority: TTL is min(SOA TTL, minimum) (RFC 2308 3)."""
        return self._negative_soa

    def node(self, name: dns.name.Name) -> Node | None:
        """RRsets at ``name``: a mapping (empty for an empty non-terminal), or None if absent.

        Empty non-terminals (``_tcp.mesh.test.`` under ``_api._tcp.mesh.test.``) exist
        and answer NODATA, not NXDOMAIN (RFC 8020).
        """
        found = self._nodes.get(name)
        if found is not None:
            return found
        if name in self._empty_nonterminals:
            return {}
        return None

    # -- the admin side -----------------------------------------------------

    def rrsets(self) -> list[RRsetView]:
        return [self._view(rrset) for rrset in self._iter_rrsets()]

    def get(self, name: object, rdtype: object) -> RRsetView | None:
        owner = records.parse_name(name, self.origin)
        kind = records.parse_type(rdtype, editable=False)
        rrset = self._nodes.get(owner, {}).get(kind)
        return None if rrset is None else self._view(rrset)

    def add(
        self,
        name: object,
        rdtype: object,
        values: object,
        *,
        ttl: object = None,
        field_prefix: str = "",
        bump: bool = True,
    ) -> bool:
        """Add values to an RRset (created if missing). A given TTL applies to the whole
        RRset, since RFC 2181 5.2 forbids RRsets with mixed TTLs."""
        owner, kind, rdatas, new_ttl = self._parse(name, rdtype, values, ttl, field_prefix)
        current = self._nodes.get(owner, {}).get(kind)
        if current is None:
            return self._store(owner, kind, rdatas, new_ttl, bump)
        merged = list(current) + [r for r in rdatas if r not in current]
        ttl_value = current.ttl if new_ttl is None else new_ttl
        if len(merged) == len(current) and ttl_value == current.ttl:
            return False
        return self._store(owner, kind, merged, ttl_value, bump)

    def replace(self, name: object, rdtype: object, values: object, *, ttl: object = None) -> bool:
        """Make the RRset exactly ``values``; keeps the old TTL unless one is given."""
        owner, kind, rdatas, new_ttl = self._parse(name, rdtype, values, ttl, "")
        current = self._nodes.get(owner, {}).get(kind)
        ttl_value = new_ttl if new_ttl is not None else current.ttl if current else None
        if current is not None and ttl_value == current.ttl and set(current) == set(rdatas):
            return False
        return self._store(owner, kind, rdatas, ttl_value, True)

    def delete(self, name: object, rdtype: object) -> bool:
        owner = records.parse_name(name, self.origin)
        kind = records.parse_type(rdtype)
        node = self._nodes.get(owner)
        if node is None or kind not in node:
            return False
        del node[kind]
        if not node:
            del self._nodes[owner]
            self._reindex()
        self._bump()
        return True

    def set_ttl(self, name: object, rdtype: object, ttl: object) -> bool:
        """Change an RRset's TTL; raises KeyError if there is no such RRset."""
        owner = records.parse_name(name, self.origin)
        kind = records.parse_type(rdtype, editable=False)
        new_ttl = records.parse_ttl(ttl)
        current = self._nodes.get(owner, {}).get(kind)
        if current is None:
            raise KeyError(f"no {kind.name} records at {owner}")
        if current.ttl == new_ttl:
            return False
        if kind == RdataType.SOA:
            self._soa_fields = dataclasses.replace(self._soa_fields, ttl=new_ttl)
            self._bump()
            return True
        return self._store(owner, kind, list(current), new_ttl, True)

    # -- internals ----------------------------------------------------------

    def _parse(
        self, name: object, rdtype: object, values: object, ttl: object, prefix: str
    ) -> tuple[dns.name.Name, RdataType, list[dns.rdata.Rdata], int | None]:
        owner = records.parse_name(name, self.origin, field=f"{prefix}name")
        kind = records.parse_type(rdtype, field=f"{prefix}type")
        new_ttl = None if ttl is None else records.parse_ttl(ttl, field=f"{prefix}ttl")
        rdatas = records.parse_values(kind, values, self.origin, field=f"{prefix}values")
        return owner, kind, rdatas, new_ttl

    def _store(
        self,
        owner: dns.name.Name,
        kind: RdataType,
        rdatas: list[dns.rdata.Rdata],
        ttl: int | None,
        bump: bool,
    ) -> bool:
        rrset = dns.rrset.RRset(owner, IN, kind)
        for rdata in rdatas:
            rrset.add(rdata)
        rrset.ttl = self.default_ttl if ttl is None else ttl
        is_new_owner = owner not in self._nodes
        self._nodes.setdefault(owner, {})[kind] = rrset
        if is_new_owner:
            self._reindex()
        if bump:
            self._bump()
        return True

    def _bump(self) -> None:
        self._serial = (self._serial + 1) % _SERIAL_MODULUS
        self._soa = self._render_soa()
        self._negative_soa = self._render_negative_soa()
        self._nodes[self.origin][RdataType.SOA] = self._soa

    def _reindex(self) -> None:
        ancestors: set[dns.name.Name] = set()
        for owner in self._nodes:
            name = owner
            while name != self.origin and len(name) > len(self.origin):
                name = name.parent()
                ancestors.add(name)
        self._empty_nonterminals = frozenset(ancestors - self._nodes.keys())

    def _render_soa(self) -> dns.rrset.RRset:
        f = self._soa_fields
        mname = records.parse_target(f.mname, self.origin, field="soa.mname")
        rname = records.parse_target(f.rname, self.origin, field="soa.rname")
        text = f"{mname} {rname} {self._serial} {f.refresh} {f.retry} {f.expire} {f.minimum}"
        rrset = dns.rrset.RRset(self.origin, IN, RdataType.SOA)
        rrset.add(dns.rdata.from_text(IN, RdataType.SOA, text))
        rrset.ttl = f.ttl
        return rrset

    def _render_negative_soa(self) -> dns.rrset.RRset:
        rrset = dns.rrset.RRset(self.origin, IN, RdataType.SOA)
        rrset.add(self._soa[0])
        rrset.ttl = min(self._soa_fields.ttl, self._soa_fields.minimum)
        return rrset

    def _iter_rrsets(self) -> Iterator[dns.rrset.RRset]:
        for owner in sorted(self._nodes):
            node = self._nodes[owner]
            for kind in sorted(node):
                yield node[kind]

    def _view(self, rrset: dns.rrset.RRset) -> RRsetView:
        return RRsetView(
            name=rrset.name.to_text(),
            type=RdataType(rrset.rdtype).name,
            ttl=rrset.ttl,
            values=[records.render_value(r) for r in rrset],
        )


def _reject_unknown(data: Mapping[Any, Any], known: Iterable[str], prefix: str) -> None:
    allowed = set(known)
    for key in data:
        if key not in allowed:
            raise FieldError(f"{prefix}{key}", "unknown field")


def _required(entry: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in entry:
        raise FieldError(f"{where}.{key}", "is required")
    return entry[key]
