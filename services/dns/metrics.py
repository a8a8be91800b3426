"""The DNS server's Prometheus series, on an injected registry.

``CATALOGUE`` is the list that METRICS.md documents and the tests check, so a
series cannot be added or renamed without both noticing.
"""

from __future__ import annotations

import functools
from collections.abc import Sized

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.dns.handler import MALFORMED_REASONS, Outcome, QueryHandler, Transport
from services.dns.zone import Zone

CATALOGUE: dict[str, tuple[str, ...]] = {
    "fallacies_dns_queries_total": ("qtype", "rcode", "transport"),
    "fallacies_dns_truncated_responses_total": ("transport",),
    "fallacies_dns_malformed_packets_total": ("transport", "reason"),
    "fallacies_dns_query_duration_seconds": ("transport",),
    "fallacies_dns_tcp_closed_connections_total": ("reason",),
    "fallacies_dns_rate_limited_responses_total": ("action",),
    "fallacies_dns_zone_serial": (),
    "fallacies_dns_cache_bytes": ("transport",),
    "fallacies_dns_rrl_sources": (),
}
"""Series name (as scraped) -> label names."""

DURATION_BUCKETS = (
    0.00001,
    0.000025,
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.05,
    0.25,
)
"""Seconds. An in-process answer takes microseconds; the tail shows event-loop stalls."""


TCP_CLOSE_REASONS = ("idle", "over_cap")


class DNSMetrics:
    """Owns the series; ``recorder(transport)`` gives the per-packet fast path."""

    def __init__(self, registry: CollectorRegistry, zone: Zone) -> None:
        self.queries = Counter(
            "fallacies_dns_queries",
            "Queries answered, by question type, response code and transport.",
            ("qtype", "rcode", "transport"),
            registry=registry,
        )
        self.truncated = Counter(
            "fallacies_dns_truncated_responses",
            "Responses sent with TC=1 because the answer did not fit the UDP payload.",
            ("transport",),
            registry=registry,
        )
        self.malformed = Counter(
            "fallacies_dns_malformed_packets",
            "Packets rejected as malformed (answered FORMERR, or dropped), by reason.",
            ("transport", "reason"),
            registry=registry,
        )
        self.duration = Histogram(
            "fallacies_dns_query_duration_seconds",
            "Time from receiving a query to handing its response to the socket.",
            ("transport",),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.tcp_closed = Counter(
            "fallacies_dns_tcp_closed_connections",
            "TCP connections the server closed: idle (no whole query for the idle timeout, "
            "however many bytes trickled in) or over the per-client cap.",
            ("reason",),
            registry=registry,
        )
        for reason in TCP_CLOSE_REASONS:
            self.tcp_closed.labels(reason)
        self.rate_limited = Counter(
            "fallacies_dns_rate_limited_responses",
            "UDP answers over their source prefix's rate: sent truncated (slip) or dropped.",
            ("action",),
            registry=registry,
        )
        for action in ("slip", "drop"):
            self.rate_limited.labels(action)
        self.serial = Gauge(
            "fallacies_dns_zone_serial", "SOA serial of the zone being served.", registry=registry
        )
        self.serial.set_function(lambda: float(zone.serial))
        self.cache_bytes = Gauge(
            "fallacies_dns_cache_bytes",
            "Bytes of queries and answers in the answer cache, per transport (bounded).",
            ("transport",),
            registry=registry,
        )
        self.rrl_sources = Gauge(
            "fallacies_dns_rrl_sources",
            "Source prefixes with a bucket in the response rate limiter's table (bounded).",
            registry=registry,
        )
        for transport in Transport:
            self.cache_bytes.labels(transport.value)
            self.truncated.labels(transport.value)
            self.duration.labels(transport.value)
            for reason in MALFORMED_REASONS:
                self.malformed.labels(transport.value, reason)

    def watch(self, handler: QueryHandler, limiter: Sized | None) -> None:
        """Read the cache's and the limiter's sizes at each scrape."""
        for transport in Transport:
            self.cache_bytes.labels(transport.value).set_function(
                functools.partial(_held, handler, transport)
            )
        if limiter is not None:
            self.rrl_sources.set_function(lambda: float(len(limiter)))

    def recorder(self, transport: Transport) -> Recorder:
        return Recorder(self, transport)


def _held(handler: QueryHandler, transport: Transport) -> float:
    return float(handler.cached_bytes(transport))


class Recorder:
    """Counts outcomes for one transport, resolving label children once per distinct outcome."""

    def __init__(self, metrics: DNSMetrics, transport: Transport) -> None:
        self._metrics = metrics
        self._transport = transport.value
        self._duration = metrics.duration.labels(self._transport)
        self._counters: dict[Outcome, tuple[Counter, ...]] = {}

    def observe(self, outcome: Outcome, seconds: float) -> None:
        counters = self._counters.get(outcome)
        if counters is None:
            counters = self._counters[outcome] = self._children(outcome)
        for counter in counters:
            counter.inc()
        if outcome.rcode is not None:
            self._duration.observe(seconds)

    def _children(self, outcome: Outcome) -> tuple[Counter, ...]:
        m, transport = self._metrics, self._transport
        children: list[Counter] = []
        if outcome.rcode is not None:
            children.append(m.queries.labels(outcome.qtype, outcome.rcode, transport))
        if outcome.truncated:
            children.append(m.truncated.labels(transport))
        if outcome.malformed is not None:
            children.append(m.malformed.labels(transport, outcome.malformed))
        return tuple(children)
