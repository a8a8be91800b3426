"""The replicated key/value store: last writer wins by (timestamp, replica id).

Each value carries the wall-clock time of the write on the replica that took it
and that replica's id. Applying an entry keeps whichever version is larger, so
replicas that have seen the same set of writes hold the same state whatever the
order they saw them in. The timestamp is the writer's clock: skew that clock and a
later write can lose to an earlier one — LWW's honest failure mode, left visible.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from services.api._types import JSON, JSONObject
from services.api.encoding import dumps
from services.common.errors import FieldError

MAX_KEY_LENGTH = 256


@dataclass(frozen=True)
class IdempotencyTag:
    """The client's Idempotency-Key and request fingerprint, carried with a replicated write."""

    key: str
    fingerprint: str


@dataclass(frozen=True)
class Entry:
    key: str
    value: JSON
    ts: float
    origin: str
    idempotency: IdempotencyTag | None = None

    @property
    def version(self) -> tuple[float, str]:
        return (self.ts, self.origin)

    @cached_property
    def digest(self) -> str:
        """Short hash of what the entry holds; equal digests mean equal replicas for this key."""
        material = dumps([self.value, repr(self.ts), self.origin])
        return hashlib.sha256(material).hexdigest()[:16]

    def to_wire(self) -> JSONObject:
        wire: JSONObject = {
            "key": self.key,
            "value": self.value,
            "ts": self.ts,
            "origin": self.origin,
        }
        if self.idempotency is not None:
            wire["idempotency_key"] = self.idempotency.key
            wire["fingerprint"] = self.idempotency.fingerprint
        return wire

    @classmethod
    def from_wire(cls, wire: Any, index: int = 0) -> Entry:
        """Parse one replicated entry; ``FieldError`` names ``entries[i].field``."""
        where = f"entries[{index}]"
        if not isinstance(wire, dict):
            raise FieldError(where, "expected an object")
        key = wire.get("key")
        if not isinstance(key, str) or not valid_key(key):
            raise FieldError(f"{where}.key", "expected a non-empty string key")
        if "value" not in wire:
            raise FieldError(f"{where}.value", "is required")
        ts = wire.get("ts")
        if isinstance(ts, bool) or not isinstance(ts, int | float):
            raise FieldError(f"{where}.ts", "expected a number of seconds")
        origin = wire.get("origin")
        if not isinstance(origin, str) or not origin:
            raise FieldError(f"{where}.origin", "expected a replica id")
        tag = None
        idem, fingerprint = wire.get("idempotency_key"), wire.get("fingerprint")
        if isinstance(idem, str) and isinstance(fingerprint, str):
            tag = IdempotencyTag(idem, fingerprint)
        return cls(key, wire["value"], float(ts), origin, tag)


def valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH


class KVStore:
    """In-memory map of key -> newest ``Entry``."""

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Entry | None:
        return self._entries.get(key)

    def apply(self, entry: Entry) -> bool:
        """Keep ``entry`` if it is newer than what is stored; True when it was kept."""
        current = self._entries.get(entry.key)
        if current is not None and current.version >= entry.version:
            return False
        self._entries[entry.key] = entry
        return True

    def entries(self) -> Iterator[Entry]:
        return iter(list(self._entries.values()))

    def digest(self) -> dict[str, tuple[float, str, str]]:
        """Key -> (ts, origin, digest): what anti-entropy compares with a peer."""
        return {k: (e.ts, e.origin, e.digest) for k, e in self._entries.items()}

    def root_digest(self) -> str:
        """One hash of the whole store, equal on two replicas exactly when they agree."""
        h = hashlib.sha256()
        for key in sorted(self._entries):
            h.update(key.encode())
            h.update(b"\0")
            h.update(self._entries[key].digest.encode())
        return h.hexdigest()
