"""Who changed what, and when: every change through the API, bounded in memory.

The "there is one administrator" fallacy made visible: when a link starts
misbehaving, ``GET /audit`` (and the ``chaos.proxy.audit`` log) says which actor
(``X-Fallacies-Actor`` header, else the User-Agent) did it. Changes the proxy
makes on its own (TTL expiry) have the actor ``ttl``.

    {"seq": 7, "time": "2026-01-01T12:00:00.000Z", "actor": "runner/latency-1",
     "remote": "127.0.0.1", "action": "toxic.create", "proxy": "api-1",
     "toxic": "latency_downstream", "detail": {...toxic as returned...}}

Bounded in bytes as well as entries, since a client chooses what goes in: an actor is
cut at ``MAX_ACTOR_CHARS``, a detail over ``MAX_ENTRY_BYTES`` becomes
``{"truncated": true, "bytes": n}``, and the oldest entries go once the log holds
``MAX_LOG_BYTES`` (``dropped`` counts them).
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque

from chaos.proxy.wrapper import rfc3339

__all__ = ["MAX_ACTOR_CHARS", "MAX_ENTRY_BYTES", "MAX_LOG_BYTES", "AuditLog"]

log = logging.getLogger("chaos.proxy.audit")

DEFAULT_CAPACITY = 1000
"""Entries kept; older ones are dropped (``dropped`` counts them)."""
MAX_ACTOR_CHARS = 200
MAX_ENTRY_BYTES = 4096
"""One entry as JSON; a toxic or a proxy as the API returns it is a few hundred bytes."""
MAX_LOG_BYTES = 1 << 20
"""The whole log as JSON: 1 MiB, so ``GET /audit`` stays small whatever was sent."""


class AuditLog:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._entries: deque[tuple[int, dict[str, object], int]] = deque()
        self._capacity = capacity
        self._bytes = 0
        self._seq = 0

    def record(
        self,
        action: str,
        *,
        actor: str,
        remote: str | None = None,
        proxy: str | None = None,
        toxic: str | None = None,
        detail: object = None,
    ) -> dict[str, object]:
        self._seq += 1
        entry: dict[str, object] = {
            "seq": self._seq,
            "time": rfc3339(time.time()),
            "actor": actor[:MAX_ACTOR_CHARS],
            "remote": remote,
            "action": action,
            "proxy": proxy,
            "toxic": toxic,
            "detail": detail,
        }
        text = _compact(entry)
        if len(text) > MAX_ENTRY_BYTES:
            entry["detail"] = {"truncated": True, "bytes": len(_compact(detail))}
            text = _compact(entry)
        self._entries.append((self._seq, entry, len(text)))
        self._bytes += len(text)
        while len(self._entries) > self._capacity or self._bytes > MAX_LOG_BYTES:
            self._bytes -= self._entries.popleft()[2]
        log.info("%s", text.decode())
        return entry

    def entries(self, since: int = 0) -> list[dict[str, object]]:
        """Entries with ``seq > since``, oldest first."""
        return [entry for seq, entry, _ in self._entries if seq > since]

    @property
    def bytes(self) -> int:
        """The log's size as JSON, at most ``MAX_LOG_BYTES``."""
        return self._bytes

    @property
    def dropped(self) -> int:
        return self._seq - len(self._entries)


def _compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
