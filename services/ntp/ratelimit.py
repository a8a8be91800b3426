"""Per-source token buckets: who gets a kiss-o'-death ``RATE`` instead of the time.

Keying. By default on the source IP alone, as real NTP servers do: a flooder who
rotates source ports is still one source. The mesh is the exception, and says so in
its configs (``rate_limit_key: address``): the whole embedded mesh talks from
127.0.0.1, and in compose every client of a node arrives from the proxy's address,
so one noisy client would starve every other; keyed on IP *and* port, each client
socket gets its own bucket.

Silence after the kiss. A source over its rate gets one ``RATE`` kiss-o'-death, then
nothing until it is under its rate again (``verdict`` says ``drop``): a 48-byte KoD
for every spoofed request would make the server a reflector.

Memory. The table is an LRU capped at ``max_clients`` entries. A flooder is always
recently used, so it keeps its (empty) bucket; only a churn of more distinct sources
than the cap can evict it, and the worst that does is hand a forgotten source a fresh
bucket.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Final, Literal

KeyBy = Literal["address", "host"]
Verdict = Literal["answer", "kiss", "drop"]

DEFAULT_RATE: Final = 16.0
"""Requests per second per source, sustained. ntpdate/ntpdig sends one request per run
and the workload a few per second, far below; a flood (hundreds per second) is far above."""

DEFAULT_BURST: Final = 32
"""Requests a quiet source may send back to back: room for an 8-sample burst several
times over, so a client's clock filter never trips it."""

DEFAULT_MAX_CLIENTS: Final = 65_536


class RateLimiter:
    """Token bucket per source: ``rate`` tokens/s refill a bucket of ``burst`` tokens."""

    def __init__(
        self,
        *,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        key_by: KeyBy = "host",
        max_clients: int = DEFAULT_MAX_CLIENTS,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0 requests/s, got {rate} (use no limiter to disable)")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        if key_by not in ("address", "host"):
            raise ValueError(f"key_by must be 'address' or 'host', got {key_by!r}")
        if max_clients < 1:
            raise ValueError(f"max_clients must be >= 1, got {max_clients}")
        self.rate = rate
        self.burst = burst
        self.key_by: KeyBy = key_by
        self.max_clients = max_clients
        self._per_ns = rate / 1e9
        self._by_host = key_by == "host"
        self._buckets: OrderedDict[Any, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, addr: tuple[Any, ...], now_ns: int) -> bool:
        """Take a token for ``addr`` (a socket address tuple); False: no time for it."""
        return self.verdict(addr, now_ns) == "answer"

    def verdict(self, addr: tuple[Any, ...], now_ns: int) -> Verdict:
        """``answer``; ``kiss`` the first time over the rate; ``drop`` after that."""
        key = addr[0] if self._by_host else addr
        buckets = self._buckets
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) >= self.max_clients:
                buckets.popitem(last=False)
            buckets[key] = [self.burst - 1.0, float(now_ns), 0.0]
            return "answer"
        buckets.move_to_end(key)
        tokens = bucket[0] + (now_ns - bucket[1]) * self._per_ns
        if tokens > self.burst:
            tokens = self.burst
        bucket[1] = now_ns
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            bucket[2] = 0.0
            return "answer"
        bucket[0] = tokens
        if bucket[2]:
            return "drop"
        bucket[2] = 1.0
        return "kiss"
