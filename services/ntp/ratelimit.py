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

Memory. The table holds at most ``max_clients`` sources (``TokenBuckets``' LRU).
"""

from __future__ import annotations

from typing import Any, Final, Literal

from services.common.token_buckets import TokenBuckets

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
    """A token bucket per source: ``rate`` tokens/s refill a bucket of ``burst`` tokens."""

    def __init__(
        self,
        *,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        key_by: KeyBy = "host",
        max_clients: int = DEFAULT_MAX_CLIENTS,
    ) -> None:
        if key_by not in ("address", "host"):
            raise ValueError(f"key_by must be 'address' or 'host', got {key_by!r}")
        self._buckets = TokenBuckets(rate=rate, burst=burst, max_keys=max_clients)
        self.rate = rate
        self.burst = burst
        self.key_by: KeyBy = key_by
        self.max_clients = max_clients
        self._by_host = key_by == "host"

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, addr: tuple[Any, ...], now_ns: int) -> bool:
        """Take a token for ``addr`` (a socket address tuple); False: no time for it."""
        return self.verdict(addr, now_ns) == "answer"

    def verdict(self, addr: tuple[Any, ...], now_ns: int) -> Verdict:
        """``answer``; ``kiss`` the first time over the rate; ``drop`` after that."""
        refused = self._buckets.take(addr[0] if self._by_host else addr, now_ns / 1e9)
        return "answer" if refused == 0 else "kiss" if refused == 1 else "drop"
