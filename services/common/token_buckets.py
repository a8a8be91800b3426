"""Token buckets per key in a bounded table: the one rate limiter of the mesh's servers.

``rate`` tokens a second refill a bucket of ``burst``; each answer takes one. The
table is an LRU of at most ``max_keys``: a flooder is always recently used, so it
keeps its (empty) bucket; only a churn of more distinct keys than the cap can evict
it, and the worst that does is hand a forgotten key a fresh bucket. The NTP server
(``services.ntp.ratelimit``) and the DNS server's RRL (``services.dns.rrl``) decide
what a refusal means.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["TokenBuckets"]


class TokenBuckets:
    def __init__(self, *, rate: float, burst: int, max_keys: int) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0 per second, got {rate} (use no limiter to disable)")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        if max_keys < 1:
            raise ValueError(f"the table must hold >= 1 key, got {max_keys}")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[Hashable, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: Hashable, now: float) -> int:
        """Take a token for ``key`` at ``now`` (seconds): 0 when one was there, else how
        many times in a row ``key`` has now been refused (1, 2, ...)."""
        buckets = self._buckets
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) >= self.max_keys:
                buckets.popitem(last=False)
            buckets[key] = [self.burst - 1.0, now, 0.0]
            return 0
        buckets.move_to_end(key)
        tokens = min(float(self.burst), bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            bucket[2] = 0.0
            return 0
        bucket[0] = tokens
        bucket[2] += 1.0
        return int(bucket[2])
