"""Configuration of one API replica: every address, key and limit comes from here.

Peers are addressed only through ``peers`` so the fault proxy can be slotted in
between the replicas (``repl-1-2``) by pointing the URL at the proxy — no code
change. The defaults are playground credentials, deliberately public: override
them in any mesh that is not on your laptop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from yarl import URL

from services.common.errors import FieldError

DEFAULT_KEYS: dict[str, str] = {"dev-1": "fallacies-dev-request-secret"}
DEFAULT_RESPONSE_KEYS: dict[str, str] = {"resp-1": "fallacies-dev-response-secret"}
DEFAULT_BOOTSTRAP_TOKEN = "fallacies-bootstrap"
DEFAULT_ADMIN_TOKEN = "fallacies-admin"


@dataclass(frozen=True, kw_only=True)
class ApiConfig:
    """Everything one replica needs; validated on construction (``FieldError`` names the field)."""

    replica_id: str
    host: str = "127.0.0.1"
    port: int = 0
    admin_host: str = "127.0.0.1"
    admin_port: int = 0
    peers: dict[str, str] = field(default_factory=dict)
    """Peer replica id -> base URL (``http://host:port``); the id is the metrics ``peer`` label."""

    keys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_KEYS))
    """Request-signing keys, key id -> shared secret; all of them are active at start."""
    response_keys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_RESPONSE_KEYS))
    """Response-signing keys shared by the replica set; the last one signs, all verify."""
    bootstrap_token: str | None = DEFAULT_BOOTSTRAP_TOKEN
    """Lets a client fetch secrets from ``/.well-known/keys``; ``None`` never hands them out."""
    admin_token: str | None = DEFAULT_ADMIN_TOKEN
    """Required in ``X-Fallacies-Admin-Token``; ``None`` leaves a loopback admin API open and
    locks any other (services.common.admin_token)."""
    max_skew_s: float = 5.0
    """Largest accepted distance, in seconds, between a request's timestamp and this clock."""
    key_grace_s: float = 0.0
    """Seconds a rotated-out key keeps working; 0 retires it at once."""

    catalog_items: int = 2500
    catalog_seed: int = 7
    catalog_version: int = 1
    catalog_per_page: int = 100
    catalog_max_per_page: int = 500
    batch_max_ids: int = 500

    client_max_size: int = 1024 * 1024
    """Largest request body in bytes; larger ones get 413."""
    gzip_min_bytes: int = 1024
    gzip_level: int = 6

    idempotency_ttl_s: float = 600.0
    idempotency_max_entries: int = 10_000

    replication_batch_size: int = 256
    replication_timeout_s: float = 2.0
    replication_backoff_base_s: float = 0.05
    replication_backoff_max_s: float = 2.0
    anti_entropy_interval_s: float = 1.0
    anti_entropy_idle_interval_s: float = 8.0
    divergence_after_s: float = 1.0
    """A key counts as divergent once the replicas have disagreed on it this long: a
    write on its way to the peer is replication, not divergence."""

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApiConfig:
        """Build from a YAML/JSON mapping; unknown keys are an error, not silently ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        for name in data:
            if name not in known:
                raise FieldError(str(name), "unknown setting")
        if "replica_id" not in data:
            raise FieldError("replica_id", "is required")
        values = dict(data)
        if "peers" in values:
            values["peers"] = parse_peers(values["peers"])
        for name, f in ((f.name, f) for f in dataclasses.fields(cls)):
            if name in values:
                values[name] = _coerce(name, f.type, values[name])
        return cls(**values)


def parse_peers(raw: Any) -> dict[str, str]:
    """Accept ``{"api-2": url}`` or ``["api-2=url", ...]`` (the CLI's repeated ``--peer``)."""
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, list | tuple):
        peers: dict[str, str] = {}
        for item in raw:
            name, sep, url = str(item).partition("=")
            if not sep or not name or not url:
                raise FieldError("peers", f"expected NAME=URL, got {item!r}")
            peers[name] = url
        return peers
    raise FieldError("peers", "expected a mapping of name to URL or a list of NAME=URL")


def _coerce(name: str, annotation: object, value: Any) -> Any:
    kind = str(annotation)
    try:
        if kind == "int" and not isinstance(value, bool):
            return int(value)
        if kind == "float" and not isinstance(value, bool):
            return float(value)
    except (TypeError, ValueError):
        raise FieldError(name, f"expected a number, got {value!r}") from None
    if kind == "dict[str, str]":
        if not isinstance(value, Mapping):
            raise FieldError(name, "expected a mapping")
        return {str(k): str(v) for k, v in value.items()}
    return value


def _validate(c: ApiConfig) -> None:
    for name in ("replica_id", "host", "admin_host"):
        if not isinstance(getattr(c, name), str) or not getattr(c, name):
            raise FieldError(name, "expected a non-empty string")
    for name in ("admin_token", "bootstrap_token"):
        token = getattr(c, name)
        if token is not None and (not isinstance(token, str) or not token):
            raise FieldError(name, "expected a non-empty string or null")
    for name in ("port", "admin_port"):
        port = getattr(c, name)
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise FieldError(name, "must be an integer in 0..65535")
    for peer, url in c.peers.items():
        parsed = URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise FieldError("peers", f"{peer}: expected an http(s) base URL, got {url!r}")
        if peer == c.replica_id:
            raise FieldError("peers", f"{peer}: a replica cannot be its own peer")
    if not c.keys:
        raise FieldError("keys", "at least one request-signing key is needed")
    if not c.response_keys:
        raise FieldError("response_keys", "at least one response-signing key is needed")
    for name in ("keys", "response_keys"):
        for kid, secret in getattr(c, name).items():
            if not kid or not secret:
                raise FieldError(name, "key ids and secrets must not be empty")
            if kid == "bootstrap":
                raise FieldError(name, "'bootstrap' is reserved for the bootstrap token")
    positive = (
        "max_skew_s",
        "catalog_items",
        "catalog_per_page",
        "catalog_max_per_page",
        "batch_max_ids",
        "client_max_size",
        "idempotency_ttl_s",
        "idempotency_max_entries",
        "replication_batch_size",
        "replication_timeout_s",
        "replication_backoff_base_s",
        "replication_backoff_max_s",
        "anti_entropy_interval_s",
        "anti_entropy_idle_interval_s",
    )
    for name in positive:
        if not getattr(c, name) > 0:
            raise FieldError(name, "must be greater than 0")
    if c.divergence_after_s < 0:
        raise FieldError("divergence_after_s", "must be 0 or more")
    if c.anti_entropy_idle_interval_s < c.anti_entropy_interval_s:
        raise FieldError("anti_entropy_idle_interval_s", "must be at least anti_entropy_interval_s")
    if c.key_grace_s < 0:
        raise FieldError("key_grace_s", "must be 0 or more")
    if c.catalog_per_page > c.catalog_max_per_page:
        raise FieldError("catalog_per_page", "must not exceed catalog_max_per_page")
    if not 1 <= c.gzip_level <= 9:
        raise FieldError("gzip_level", "must be in 1..9")
    if c.catalog_version < 1:
        raise FieldError("catalog_version", "must be 1 or more")
