"""Remembered write responses by Idempotency-Key, so a retried write is applied once.

A client that timed out cannot know whether its write landed (fallacy 1); with an
Idempotency-Key it can retry safely: the first response is stored and replayed.
The store is bounded twice — entries expire after ``ttl_s`` and the oldest go
first beyond ``max_entries`` — so a client minting keys cannot grow it
without limit. Reusing a key for a different request is refused, as Stripe does.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

from services.api._types import Monotonic

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    fingerprint: str


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same request" for an Idempotency-Key."""
    h = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def valid_idempotency_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()


class IdempotencyStore:
    """Insertion-ordered map with a TTL, so the oldest entry is always the next to expire.

    ``clock`` is monotonic seconds (injectable for tests).
    """

    def __init__(
        self, *, ttl_s: float, max_entries: int, clock: Monotonic = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, StoredResponse]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> StoredResponse | None:
        self._expire()
        found = self._entries.get(key)
        return None if found is None else found[1]

    def put(self, key: str, response: StoredResponse) -> None:
        self._expire()
        self._entries.pop(key, None)
        self._entries[key] = (self._clock() + self._ttl_s, response)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def _expire(self) -> None:
        """Drop expired entries from the old end; with one TTL, insertion order is expiry order."""
        now = self._clock()
        while self._entries:
            key, (expires, _) = next(iter(self._entries.items()))
            if expires > now:
                break
            del self._entries[key]
