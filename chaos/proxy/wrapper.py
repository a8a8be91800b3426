"""A toxic as installed on a link: Toxiproxy's envelope around the attributes.

    {"name": "latency_downstream", "type": "latency", "stream": "downstream",
     "toxicity": 1, "attributes": {"latency": 50, "jitter": 0},
     "ttl": 30, "expires_at": "2026-01-01T12:00:30.000Z"}      ← extension, only with a TTL

Decoding follows Toxiproxy's ``AddToxicJson``: the envelope first (stream,
default name ``<type>_<stream>``, type), the attributes second, once the type
is known. Unlike Toxiproxy, unknown attribute keys, wrong types, negative
numbers and a toxicity outside 0..1 are rejected with a 400.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from chaos.proxy import toxics as registry
from chaos.proxy.errors import (
    INVALID_STREAM,
    INVALID_TOXIC_TYPE,
    TOXIC_ALREADY_EXISTS,
    ProxyApiError,
    bad_request,
)
from chaos.proxy.names import check_name
from chaos.proxy.stream import Direction, NetProtocol
from chaos.proxy.toxics.base import HttpToxic, InvalidAttribute, Stateful, Toxic

MAX_TTL_S = 86_400
"""The longest TTL a toxic or a change may ask: a day (a longer one is a typo, and far
enough out it overflows a date)."""

__all__ = [
    "MAX_TTL_S",
    "ToxicUpdate",
    "ToxicWrapper",
    "decode_new",
    "decode_update",
    "json_number",
    "parse_ttl",
    "rfc3339",
]


class ToxicWrapper:
    """One toxic on one link: envelope, attributes, and its own seeded random source."""

    def __init__(
        self,
        *,
        name: str,
        type: str,
        stream: str,
        toxicity: float,
        toxic: Toxic,
        rng: random.Random,
        ttl: float | None = None,
    ) -> None:
        self.name = name
        self.type = type
        self.stream = stream
        self.direction = Direction.parse(stream)
        self.toxicity = toxicity
        self.toxic = toxic
        self.rng = rng
        self.ttl = ttl
        self.expires_at: float | None = None
        """Wall-clock seconds (epoch) when the proxy removes it on its own."""
        self.generation = 0
        """Bumped on every update, so UDP sessions know to redraw toxicity."""
        self.removed = asyncio.Event()
        """Set once it is off its link: an HTTP toxic's wait ends then."""

    @property
    def http(self) -> bool:
        """Per request (``chaos.proxy.http``) rather than per byte stream."""
        return isinstance(self.toxic, HttpToxic)

    def draw(self) -> bool:
        """Whether the toxic applies to one more connection (an HTTP toxic: one more request)."""
        return self.toxicity >= 1 or self.rng.random() < self.toxicity

    def new_state(self) -> object:
        return self.toxic.new_state() if isinstance(self.toxic, Stateful) else None

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "attributes": self.toxic.attributes(),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": json_number(self.toxicity),
        }
        if self.ttl is not None and self.expires_at is not None:
            body["ttl"] = json_number(self.ttl)
            body["expires_at"] = rfc3339(self.expires_at)
        return body


@dataclass(frozen=True, slots=True)
class ToxicUpdate:
    """What a PATCH changes: attributes and toxicity, and the TTL when ``ttl_given``."""

    toxic: Toxic
    toxicity: float
    ttl_given: bool = False
    ttl: float | None = None
    """Seconds; None with ``ttl_given`` clears the TTL."""


def decode_new(
    body: object,
    *,
    protocol: NetProtocol,
    exists: Callable[[str], bool],
    rng_for: Callable[[str], random.Random],
) -> ToxicWrapper:
    """A new toxic from a POST body; raises ``ProxyApiError`` (400/409) like Toxiproxy."""
    envelope = _object(body, "toxics.ToxicWrapper")
    stream = _string(envelope, "stream", "downstream")
    name = _string(envelope, "name", "")
    type_name = _string(envelope, "type", "")
    toxicity = _toxicity(envelope.get("toxicity", 1.0))
    ttl = parse_ttl(envelope.get("ttl"))
    try:
        Direction.parse(stream)
    except ValueError:
        raise INVALID_STREAM from None
    if not name:
        name = f"{type_name}_{stream}"
    check_name(name, "toxic")
    cls = registry.lookup(type_name)
    if cls is None:
        raise INVALID_TOXIC_TYPE
    if protocol not in cls.protocols:
        raise ProxyApiError(
            f"toxic type {type_name} does not support {protocol.wire} proxies"
            f" (it supports {cls.protocols.wire})",
            400,
        )
    if Direction.parse(stream) not in cls.streams:
        allowed = " or ".join(sorted(d.wire for d in cls.streams))
        raise bad_request(f"toxic type {type_name} works on the {allowed} stream only")
    if exists(name):
        raise TOXIC_ALREADY_EXISTS
    toxic = _attributes(cls, envelope.get("attributes"), None)
    return ToxicWrapper(
        name=name,
        type=type_name,
        stream=stream,
        toxicity=toxicity,
        toxic=toxic,
        rng=rng_for(name),
        ttl=ttl,
    )


def decode_update(wrapper: ToxicWrapper, body: object) -> ToxicUpdate:
    """A PATCH body: attributes merge into the current ones; other envelope keys are ignored."""
    envelope = _object(body, "toxics.ToxicWrapper")
    toxicity = _toxicity(envelope.get("toxicity", wrapper.toxicity))
    ttl = parse_ttl(envelope.get("ttl"))
    toxic = _attributes(type(wrapper.toxic), envelope.get("attributes"), wrapper.toxic)
    return ToxicUpdate(toxic, toxicity, ttl_given="ttl" in envelope, ttl=ttl)


def json_number(value: float) -> int | float:
    """1.0 → 1, as Go prints it, so bodies match Toxiproxy's byte for byte."""
    return int(value) if float(value).is_integer() else value


def rfc3339(epoch: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _attributes(cls: type[Toxic], raw: object, base: Toxic | None) -> Toxic:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise bad_request(f"attributes must be an object, not {_kind(raw)}")
    try:
        return cls.decode(raw, base)
    except InvalidAttribute as exc:
        raise bad_request(str(exc)) from None


def _object(body: object, what: str) -> Mapping[str, object]:
    if not isinstance(body, Mapping):
        kind = _kind(body, go=True)
        raise bad_request(f"json: cannot unmarshal {kind} into Go value of type {what}")
    return body


def _string(envelope: Mapping[str, object], key: str, default: str) -> str:
    value = envelope.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad_request(f'"{key}" must be a string, not {_kind(value)}')
    return value


def _toxicity(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request(f'"toxicity" must be a number, not {_kind(value)}')
    if not 0 <= value <= 1:
        raise bad_request('"toxicity" must be between 0 and 1')
    return float(value)


def parse_ttl(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request(f'"ttl" must be a number of seconds, not {_kind(value)}')
    if not math.isfinite(value) or value <= 0:
        raise bad_request('"ttl" must be a positive number of seconds')
    if value > MAX_TTL_S:
        raise bad_request(f'"ttl" must be at most {MAX_TTL_S} seconds (a day)')
    return float(value)


def _kind(value: object, *, go: bool = False) -> str:
    if go:
        names = {list: "array", str: "string", bool: "bool", int: "number", float: "number"}
        return "null" if value is None else names.get(type(value), "object")
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
