"""Configuration of the workload: every address, credential, price and pace in one typed tree.

Nothing in the clients hard-codes where a node is, so the fault proxy of a later
issue slots into any edge by changing addresses here (or the DNS records, which
carry the proxy ports) — never code. The dict/JSON shape mirrors the dataclasses::

    {"dns": {"udp": "127.0.0.1:5353", "tcp": "127.0.0.1:5353", ...},
     "ntp": {"servers": [{"name": "ntp-a", "address": "127.0.0.1:1123"}, ...], ...},
     "api": {"srv_name": "_api._tcp.mesh.test.", "key_id": "dev-1", ...},
     "journey": {...}, "resilient": {...}, "prices": {...}, "metrics": {...},
     "defences": {"ttl": true, ...}, "seed": null}

Unknown keys are refused (``FieldError`` names the dotted path), so a typo in an
experiment file fails loudly instead of silently running the default.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from services.common.errors import FieldError

__all__ = [
    "DEFENCES",
    "ApiSettings",
    "Defences",
    "DnsSettings",
    "JourneySettings",
    "MetricsSettings",
    "NtpServerRef",
    "NtpSettings",
    "Prices",
    "ResilientSettings",
    "WorkloadConfig",
    "parse_address",
]

T = TypeVar("T")


def parse_address(raw: str, *, field_name: str = "address") -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port); a bad one is a ``FieldError``."""
    if not isinstance(raw, str) or ":" not in raw:
        raise FieldError(field_name, f"expected host:port, got {raw!r}")
    host, _, port_text = raw.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text)
    except ValueError:
        raise FieldError(field_name, f"port must be an integer, got {port_text!r}") from None
    if not host or not 0 < port <= 65535:
        raise FieldError(field_name, f"expected host:port with port 1..65535, got {raw!r}")
    return host, port


@dataclass(frozen=True, kw_only=True)
class DnsSettings:
    """Where the authoritative server answers; UDP and TCP apart, as a proxy may split them."""

    udp: str = "127.0.0.1:5353"
    tcp: str = "127.0.0.1:5353"
    txt_name: str = "big.mesh.test."
    """A name whose TXT answer exceeds 512 bytes: breaks UDP-only clients on a truncating path."""
    edns_payload: int = 1232
    """Bytes advertised in EDNS0 by both clients, so the steady state needs no TCP."""
    timeout_s: float = 0.5
    """Seconds per query for the resilient resolver (with its ``timeouts`` defence on);
    the naive one keeps dnspython's own defaults. Short, as a LAN answers in a
    millisecond: a journey may ask SRV, two A and a TXT record, each lost datagram costs
    this much before the TCP retry, and all of it must fit the journey's deadline."""

    def __post_init__(self) -> None:
        parse_address(self.udp, field_name="dns.udp")
        parse_address(self.tcp, field_name="dns.tcp")
        _at_least("dns.edns_payload", self.edns_payload, 512)
        _positive("dns.timeout_s", self.timeout_s)


@dataclass(frozen=True, kw_only=True)
class NtpServerRef:
    """One SNTP server; ``name`` (e.g. ``ntp-a``) is the bounded metrics label."""

    name: str
    address: str

    def __post_init__(self) -> None:
        if not self.name:
            raise FieldError("ntp.servers.name", "must not be empty")
        parse_address(self.address, field_name=f"ntp.servers.{self.name}")


def _default_ntp_servers() -> tuple[NtpServerRef, ...]:
    return tuple(
        NtpServerRef(name=f"ntp-{letter}", address=f"127.0.0.1:{port}")
        for letter, port in (("a", 1123), ("b", 1124), ("c", 1125))
    )


@dataclass(frozen=True, kw_only=True)
class NtpSettings:
    servers: tuple[NtpServerRef, ...] = field(default_factory=_default_ntp_servers)
    naive_server: str | None = None
    """Name of the one server the naive client trusts; the first one when unset."""
    interval_s: float = 1.0
    """Seconds between clock synchronisations, so a lying server shows within ~2 s."""
    timeout_s: float = 0.5
    burst: int = 4
    """Samples per server per sync for the resilient client's clock filter."""

    def __post_init__(self) -> None:
        if not self.servers:
            raise FieldError("ntp.servers", "at least one server is needed")
        names = [s.name for s in self.servers]
        if len(set(names)) != len(names):
            raise FieldError("ntp.servers", "server names must be unique")
        if self.naive_server is not None and self.naive_server not in names:
            raise FieldError("ntp.naive_server", f"{self.naive_server!r} is not in ntp.servers")
        _positive("ntp.interval_s", self.interval_s)
        _positive("ntp.timeout_s", self.timeout_s)
        _at_least("ntp.burst", self.burst, 1)

    def naive(self) -> NtpServerRef:
        wanted = self.naive_server or self.servers[0].name
        return next(s for s in self.servers if s.name == wanted)


@dataclass(frozen=True, kw_only=True)
class ApiSettings:
    """How to find and authenticate to the API (playground credentials by default)."""

    srv_name: str = "_api._tcp.mesh.test."
    replicas: tuple[str, ...] = ("api-1", "api-2")
    """Known node names: the ``replica`` label takes these values or ``other``, never more."""
    key_id: str = "dev-1"
    secret: str = "fallacies-dev-request-secret"
    response_keys: dict[str, str] = field(
        default_factory=lambda: {"resp-1": "fallacies-dev-response-secret"}
    )
    """Response keys trusted from the start, key id -> secret (the API's ``response_keys``)."""
    bootstrap_token: str = "fallacies-bootstrap"
    """Credential for ``GET /.well-known/keys``: the resilient client's way back after a 401."""

    def __post_init__(self) -> None:
        for name in ("srv_name", "key_id", "secret"):
            if not getattr(self, name):
                raise FieldError(f"api.{name}", "must not be empty")
        if not self.response_keys or not all(self.response_keys.values()):
            raise FieldError("api.response_keys", "at least one key id -> secret is needed")


@dataclass(frozen=True, kw_only=True)
class JourneySettings:
    interval_s: float = 0.3
    """Pause between two journeys of one client, seconds (journeys of a client never overlap)."""
    items: int = 10
    """N: items fetched per journey (N single calls for naive, one batch for resilient)."""
    catalog_pages: int = 1
    """Pages the user looks at; the naive client downloads the whole catalog to show them."""
    per_page: int = 100
    write_keys: int = 64
    """Distinct keys each client cycles through, so the replicas' stores stay bounded."""

    def __post_init__(self) -> None:
        if not self.interval_s >= 0:
            raise FieldError("journey.interval_s", "must be 0 or more")
        _at_least("journey.items", self.items, 0)
        _at_least("journey.catalog_pages", self.catalog_pages, 1)
        _at_least("journey.per_page", self.per_page, 1)
        _at_least("journey.write_keys", self.write_keys, 1)


@dataclass(frozen=True, kw_only=True)
class ResilientSettings:
    """Knobs of the resilient client's defences; seconds throughout."""

    request_timeout_s: float = 1.0
    journey_deadline_s: float = 8.0
    """Room for the worst the defences agree to wait through in one journey: four DNS
    lookups that each lose a datagram (4 × 0.5 s), a Retry-After at its cap (3 s) and a
    request timeout on either side of it (2 × 1 s), as when a failover meets a black hole.
    At 5 s, a journey that honoured a 3 s Retry-After timed out in experiment 1."""
    max_attempts: int = 4
    retry_after_cap_s: float = 3.0
    """The longest Retry-After honoured: a longer one is not worth the journey's deadline."""
    backoff_base_s: float = 0.05
    backoff_cap_s: float = 1.0
    hedge_delay_s: float | None = None
    """Fixed hedge delay; None hedges after the p95 of recent latencies."""
    hedge_min_delay_s: float = 0.02
    ewma_alpha: float = 0.3
    ewma_decay_s: float = 3.0
    """A replica not tried for this long has its remembered latency shrink by 1/e: recovery."""

    def __post_init__(self) -> None:
        for name in (
            "request_timeout_s",
            "journey_deadline_s",
            "backoff_base_s",
            "backoff_cap_s",
            "ewma_decay_s",
            "retry_after_cap_s",
        ):
            _positive(f"resilient.{name}", getattr(self, name))
        _at_least("resilient.max_attempts", self.max_attempts, 1)
        if self.hedge_delay_s is not None and not self.hedge_delay_s >= 0:
            raise FieldError("resilient.hedge_delay_s", "must be 0 or more, or null")
        if not self.hedge_min_delay_s >= 0:
            raise FieldError("resilient.hedge_min_delay_s", "must be 0 or more")
        if not 0 < self.ewma_alpha <= 1:
            raise FieldError("resilient.ewma_alpha", "must be in (0, 1]")


@dataclass(frozen=True, kw_only=True)
class Prices:
    """What the transport costs, in dollars (cloud egress and API-gateway orders of magnitude)."""

    per_gb: float = 0.09
    per_request: float = 0.000001

    def __post_init__(self) -> None:
        for name in ("per_gb", "per_request"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise FieldError(f"prices.{name}", "must be a finite number >= 0")


@dataclass(frozen=True, kw_only=True)
class MetricsSettings:
    """The workload's own listener: /metrics, /healthz, /status."""

    host: str = "127.0.0.1"
    port: int = 9400

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise FieldError("metrics.port", "must be in 0..65535")


def _defence(what: str) -> Any:
    """A switch that is on unless a negative control turns it off; ``what`` is its one line."""
    return field(default=True, metadata={"defence": what})


@dataclass(frozen=True, kw_only=True)
class Defences:
    """One switch per resilient defence; turning one off makes a negative control.

    Each switch's one-line description lives in its field's metadata (``DEFENCES``
    reads them), so the experiments, the CLI's help and the defence matrix name a
    defence the same way.
    """

    ttl: bool = _defence("honour DNS TTLs and re-resolve after a failed call")
    tcp_fallback: bool = _defence("retry a DNS query over TCP when UDP fails or is cut")
    ntp_selection: bool = _defence("three time servers, lowest-delay samples, falsetickers out")
    timeouts: bool = _defence("a deadline on every call (HTTP, DNS) and on the whole journey")
    retries: bool = _defence("retry failed calls with backoff and full jitter, elsewhere")
    retry_after: bool = _defence(
        "on a 429/503 with Retry-After, wait as asked (up to a cap) and ask that replica again"
    )
    hedging: bool = _defence("send a slow idempotent request to a second replica after the p95")
    ewma: bool = _defence(
        "pick replicas in inverse proportion to the square of their recent latency (EWMA)"
    )
    compression_etag: bool = _defence("gzip, and If-None-Match so unchanged pages cost a 304")
    pagination: bool = _defence("fetch only the catalog pages the user looks at")
    batch: bool = _defence("one batch call for N items instead of N calls")
    verify_signatures: bool = _defence("verify every response's HMAC signature")
    key_discovery: bool = _defence("fetch the current keys after a 401 instead of failing")


DEFENCES: dict[str, str] = {
    spec.name: str(spec.metadata["defence"]) for spec in dataclasses.fields(Defences)
}
"""Defence name -> what it does, in the order of ``Defences``."""


@dataclass(frozen=True, kw_only=True)
class OwnClientSettings:
    """A third client, written by the user, run beside the two (``own.py`` loads it)."""

    spec: str | None = None
    """``path/to/file.py:Class`` or ``package.module:Class``; None runs only the two."""


@dataclass(frozen=True, kw_only=True)
class WorkloadConfig:
    dns: DnsSettings = field(default_factory=DnsSettings)
    ntp: NtpSettings = field(default_factory=NtpSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    journey: JourneySettings = field(default_factory=JourneySettings)
    resilient: ResilientSettings = field(default_factory=ResilientSettings)
    prices: Prices = field(default_factory=Prices)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    defences: Defences = field(default_factory=Defences)
    own: OwnClientSettings = field(default_factory=OwnClientSettings)
    seed: int | None = None
    """Seeds jitter, hedging and item choice, so a run can be replayed."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkloadConfig:
        return _build(cls, data, "")

    @classmethod
    def from_json(cls, text: str) -> WorkloadConfig:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise FieldError("config", f"not valid JSON: {exc}") from None
        if not isinstance(data, Mapping):
            raise FieldError("config", "expected a JSON object")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """The same shape ``from_dict`` reads (tuples become lists)."""
        shape: dict[str, Any] = _plain(dataclasses.asdict(self))
        return shape


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise FieldError(name, f"must be a number greater than 0, got {value!r}")


def _at_least(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise FieldError(name, f"must be an integer >= {low}, got {value!r}")


def _build(cls: type[T], data: Any, path: str) -> T:
    """Construct dataclass ``cls`` from a mapping, coercing each field by its annotation."""
    if not isinstance(data, Mapping):
        raise FieldError(path or "config", "expected a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for name, raw in data.items():
        where = f"{path}.{name}" if path else str(name)
        if name not in fields:
            raise FieldError(where, "unknown setting")
        values[name] = _coerce(hints[name], raw, where)
    return cls(**values)


def _coerce(kind: Any, raw: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if raw is None:
            return None
        return _coerce(options[0], raw, where)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        if kind is NtpServerRef and isinstance(raw, str):
            name, sep, address = raw.partition("=")
            if not sep:
                raise FieldError(where, f"expected NAME=HOST:PORT or a mapping, got {raw!r}")
            raw = {"name": name, "address": address}
        return _build(kind, raw, where)
    if origin is dict:
        if not isinstance(raw, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
        ):
            raise FieldError(where, "expected a mapping of strings to strings")
        return dict(raw)
    if origin is tuple:
        if not isinstance(raw, list | tuple):
            raise FieldError(where, "expected a list")
        inner = typing.get_args(kind)[0]
        return tuple(_coerce(inner, item, f"{where}[{i}]") for i, item in enumerate(raw))
    if kind is bool:
        if not isinstance(raw, bool):
            raise FieldError(where, f"expected true or false, got {raw!r}")
        return raw
    if kind is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise FieldError(where, f"expected an integer, got {raw!r}")
        return raw
    if kind is float:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise FieldError(where, f"expected a number, got {raw!r}")
        return float(raw)
    if kind is str:
        if not isinstance(raw, str):
            raise FieldError(where, f"expected a string, got {raw!r}")
        return raw
    raise FieldError(where, f"unsupported setting type {kind!r}")  # pragma: no cover
