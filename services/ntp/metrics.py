"""Prometheus series for one SNTP server.

The per-packet path bumps plain integers on ``Stats``; a custom collector turns them
into series when Prometheus scrapes. That keeps the hot path free of the client
library's locks and lets the offset gauge include drift up to the moment of the scrape.

Invariant: requests = replies + KoDs + malformed + busy drops + limited drops (each
datagram ends in exactly one of them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from services.ntp.clock import LyingClock
from services.ntp.ratelimit import RateLimiter

MALFORMED_REASONS: Final = ("short", "bad_version", "bad_mode", "mode6", "mode7")
"""Every value of the ``reason`` label, so each series exists (at 0) from the start."""

KISS_CODES: Final = ("RATE",)


@dataclass(slots=True)
class Stats:
    """Counters the datagram protocol increments; read by the collector and by tests."""

    requests: int = 0
    replies: int = 0
    busy: int = 0  # replies dropped because the socket's send buffer was full
    limited: int = 0  # requests left unanswered: over the rate, and kissed already
    socket_errors: int = 0
    kod: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KISS_CODES, 0))
    malformed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MALFORMED_REASONS, 0))


class NTPCollector(Collector):
    """Reads ``Stats`` and the clock at scrape time; see METRICS.md for every series."""

    def __init__(self, stats: Stats, clock: LyingClock, limiter: RateLimiter | None = None) -> None:
        self._stats = stats
        self._clock = clock
        self._limiter = limiter

    def describe(self) -> Iterator[Metric]:
        return self.collect()

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        yield CounterMetricFamily(
            "fallacies_ntp_requests", "Datagrams received on the SNTP port.", value=stats.requests
        )
        yield CounterMetricFamily(
            "fallacies_ntp_replies",
            "Time replies sent (mode 4, not kiss-o'-death).",
            value=stats.replies,
        )
        kod = CounterMetricFamily(
            "fallacies_ntp_kod_sent", "Kiss-o'-death replies sent, by kiss code.", labels=["code"]
        )
        for code, count in stats.kod.items():
            kod.add_metric([code], count)
        yield kod
        malformed = CounterMetricFamily(
            "fallacies_ntp_malformed_packets",
            "Datagrams dropped without a reply, by reason.",
            labels=["reason"],
        )
        for reason, count in stats.malformed.items():
            malformed.add_metric([reason], count)
        yield malformed
        yield CounterMetricFamily(
            "fallacies_ntp_replies_dropped",
            "Replies not sent because the socket's send buffer was full (back-pressure).",
            value=stats.busy,
        )
        yield CounterMetricFamily(
            "fallacies_ntp_limited_dropped",
            "Requests left unanswered: their source is over its rate and had its RATE kiss.",
            value=stats.limited,
        )
        yield CounterMetricFamily(
            "fallacies_ntp_socket_errors",
            "Errors the socket reported, e.g. ICMP port unreachable from a client gone away.",
            value=stats.socket_errors,
        )
        yield GaugeMetricFamily(
            "fallacies_ntp_served_offset_seconds",
            "Served time minus true time, drift included, at scrape time.",
            value=self._clock.offset_at(),
        )
        yield GaugeMetricFamily(
            "fallacies_ntp_stratum", "Stratum the server claims (1..15).", value=self._clock.stratum
        )
        yield GaugeMetricFamily(
            "fallacies_ntp_leap_indicator",
            "Leap indicator the server claims (0 none, 1/2 leap second, 3 unsynchronised).",
            value=self._clock.leap,
        )
        if self._limiter is not None:
            yield GaugeMetricFamily(
                "fallacies_ntp_rate_limit_sources",
                "Sources with a token bucket in the rate limiter's table.",
                value=len(self._limiter),
            )


def register(
    registry: CollectorRegistry,
    stats: Stats,
    clock: LyingClock,
    limiter: RateLimiter | None = None,
) -> NTPCollector:
    collector = NTPCollector(stats, clock, limiter)
    registry.register(collector)
    return collector
