"""Response rate limiting (RRL) for UDP, as nsd, BIND and Knot ship it.

A UDP source address can be forged, so an authoritative server that answers every
datagram is a reflector: a spoofed flood of small queries becomes a flood of larger
answers at the victim. Each source *prefix* (/24 for IPv4, /56 for IPv6, so one host
cannot dodge by rotating addresses in its own network) gets a token bucket of
answers; over it, one answer in ``slip`` goes back truncated (TC=1, question only,
no larger than the query), so a real client behind the prefix retries over TCP,
which cannot be spoofed, and the rest are dropped. ``rate=0`` turns it off.

The embedded mesh's clients all share 127.0.0.1 and ask a few queries a second, far
below the default; a benchmark (``dnsperf``) is a flood by definition and runs with
it off.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Final, Literal

from services.common.token_buckets import TokenBuckets

__all__ = ["DEFAULT_BURST", "DEFAULT_RATE", "DEFAULT_SLIP", "ResponseRateLimiter", "Verdict"]

Verdict = Literal["send", "slip", "drop"]

DEFAULT_RATE: Final = 100.0
"""Answers per second per source prefix: the workload asks a few, dig one."""
DEFAULT_BURST: Final = 200
DEFAULT_SLIP: Final = 2
"""Every second limited answer goes back truncated (BIND's default)."""
DEFAULT_MAX_SOURCES: Final = 65_536


class ResponseRateLimiter:
    def __init__(
        self,
        *,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        slip: int = DEFAULT_SLIP,
        ipv4_prefix: int = 24,
        ipv6_prefix: int = 56,
        max_sources: int = DEFAULT_MAX_SOURCES,
    ) -> None:
        if slip < 0:
            raise ValueError(f"slip must be >= 0, got {slip}")
        self._buckets = TokenBuckets(rate=rate, burst=burst, max_keys=max_sources)
        self.slip = slip
        self._prefixes = {4: ipv4_prefix, 6: ipv6_prefix}

    def __len__(self) -> int:
        return len(self._buckets)

    def prefix(self, host: str) -> str:
        return _prefix(host, self._prefixes[4], self._prefixes[6])

    def verdict(self, host: str, now: float) -> Verdict:
        """What to do with an answer for ``host`` at ``now`` (seconds, monotonic)."""
        refused = self._buckets.take(self.prefix(host), now)
        if refused == 0:
            return "send"
        return "slip" if self.slip and refused % self.slip == 0 else "drop"


@functools.lru_cache(maxsize=4096)
def _prefix(host: str, ipv4_prefix: int, ipv6_prefix: int) -> str:
    """The network of ``host``; cached, since every datagram of a source asks again."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    bits = ipv4_prefix if ip.version == 4 else ipv6_prefix
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def truncated(response: bytes) -> bytes:
    """The header and question of ``response`` with TC=1 and no records: what a slip sends.

    Never larger than the query it answers (the question is the query's own).
    """
    if len(response) < 12:
        return response
    qdcount = int.from_bytes(response[4:6], "big")
    end = 12
    for _ in range(qdcount):
        while end < len(response) and response[end] != 0:
            if response[end] & 0xC0:  # a pointer ends the name
                end += 1
                break
            end += response[end] + 1
        end += 1 + 4  # the root label (or pointer's second byte), type, class
    flags = int.from_bytes(response[2:4], "big") | 0x0200
    header = response[:2] + flags.to_bytes(2, "big") + response[4:6] + bytes(6)
    return header + response[12:end]
