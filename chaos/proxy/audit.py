"""Who changed what, and when: every change through the API, bounded in memory.

The "there is one administrator" fallacy made visible: when a link starts
misbehaving, ``GET /audit`` (and the ``chaos.proxy.audit`` log) says which actor
(``X-Fallacies-Actor`` header, else the User-Agent) did it. Changes the proxy
makes on its own (TTL expiry) have the actor ``ttl``.

    {"seq": 7, "time": "2026-01-01T12:00:00.000Z", "actor": "runner/latency-1",
     "remote": "127.0.0.1", "action": "toxic.create", "proxy": "api-1",
     "toxic": "latency_downstream", "detail": {...toxic as returned...}}
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque

from chaos.proxy.wrapper import rfc3339

__all__ = ["AuditLog"]

log = logging.getLogger("chaos.proxy.audit")

DEFAULT_CAPACITY = 1000
"""Entries kept; older ones are dropped (``dropped`` counts them)."""


class AuditLog:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._entries: deque[tuple[int, dict[str, object]]] = deque(maxlen=capacity)
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
            "actor": actor,
            "remote": remote,
            "action": action,
            "proxy": proxy,
            "toxic": toxic,
            "detail": detail,
        }
        self._entries.append((self._seq, entry))
        log.info("%s", json.dumps(entry, separators=(",", ":")))
        return entry

    def entries(self, since: int = 0) -> list[dict[str, object]]:
        """Entries with ``seq > since``, oldest first."""
        return [entry for seq, entry in self._entries if seq > since]

    @property
    def dropped(self) -> int:
        return self._seq - len(self._entries)
