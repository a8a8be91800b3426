"""Body encoding: compact JSON bytes and gzip negotiation, shared by handlers and middleware."""

from __future__ import annotations

import gzip
import json
from typing import Any


def dumps(value: Any) -> bytes:
    """Compact, deterministic JSON: replicas produce identical bytes for identical values."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=False).encode()


def gzip_bytes(data: bytes, level: int = 6) -> bytes:
    """gzip with mtime 0 so the same input always compresses to the same bytes (stable ETag)."""
    return gzip.compress(data, compresslevel=level, mtime=0)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """True when ``Accept-Encoding`` allows gzip (``gzip`` or ``*`` with q > 0)."""
    if not accept_encoding:
        return False
    wildcard = False
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            return q > 0
        if coding == "*":
            wildcard = q > 0
    return wildcard
