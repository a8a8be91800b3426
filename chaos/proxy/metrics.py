"""The proxy's Prometheus series, read from live counters at scrape time.

``CATALOGUE`` is what METRICS.md documents and the tests check. Counters come
from each link's ``LinkStats`` (plain ints, bumped on the hot path); gauges are
computed from the current links and toxics at each scrape, so they can never
drift from what the API shows. Only links that exist are exported: a deleted
link's series go (its counters are kept, so a re-created link counts on). Beside
the project's names, Toxiproxy's own (``toxiproxy_proxy_{received,sent}_bytes_total``)
so dashboards made for Toxiproxy work here too.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from chaos.proxy import toxics as registry
from chaos.proxy.audit import MAX_LOG_BYTES, AuditLog
from chaos.proxy.collection import ProxyCollection
from chaos.proxy.stream import Direction

__all__ = ["CATALOGUE", "PARTITION", "ProxyMetrics"]

CATALOGUE: dict[str, tuple[str, ...]] = {
    "fallacies_proxy_bytes_total": ("link", "direction"),
    "fallacies_proxy_datagrams_total": ("link", "direction"),
    "fallacies_proxy_connections_total": ("link",),
    "fallacies_proxy_active_connections": ("link",),
    "fallacies_proxy_upstream_errors_total": ("link",),
    "fallacies_proxy_dropped_datagrams_total": ("link", "toxic"),
    "fallacies_proxy_fault_active": ("link", "kind"),
    "fallacies_proxy_audit_bytes": (),
    "toxiproxy_proxy_received_bytes_total": ("direction", "proxy", "listener", "upstream"),
    "toxiproxy_proxy_sent_bytes_total": ("direction", "proxy", "listener", "upstream"),
}
"""Series name (as scraped) -> label names."""

PARTITION = "partition"
"""``kind`` of the fault gauge for a disabled link (and for the one-direction partition toxic)."""


class ProxyMetrics(Collector):
    """Registered once on the injected registry; reads the collection on every scrape."""

    def __init__(
        self, proxies: ProxyCollection, registry: CollectorRegistry, audit: AuditLog | None = None
    ) -> None:
        self._proxies = proxies
        self._audit = audit if audit is not None else AuditLog()
        registry.register(self)

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        by_bytes = CounterMetricFamily(
            "fallacies_proxy_bytes",
            "Bytes the proxy forwarded, by link and direction (upstream: client to server).",
            labels=("link", "direction"),
        )
        datagrams = CounterMetricFamily(
            "fallacies_proxy_datagrams",
            "UDP datagrams the proxy forwarded, by link and direction.",
            labels=("link", "direction"),
        )
        connections = CounterMetricFamily(
            "fallacies_proxy_connections",
            "TCP connections accepted, or UDP sessions opened, by link.",
            labels=("link",),
        )
        active = GaugeMetricFamily(
            "fallacies_proxy_active_connections",
            "TCP connections or UDP sessions open now, by link.",
            labels=("link",),
        )
        upstream_errors = CounterMetricFamily(
            "fallacies_proxy_upstream_errors",
            "Connections or sessions given up because the upstream could not be reached.",
            labels=("link",),
        )
        dropped = CounterMetricFamily(
            "fallacies_proxy_dropped_datagrams",
            "UDP datagrams dropped by a toxic, by link and toxic type.",
            labels=("link", "toxic"),
        )
        faults = GaugeMetricFamily(
            "fallacies_proxy_fault_active",
            "Active toxics by link and type; kind=partition also counts a disabled link.",
            labels=("link", "kind"),
        )
        received = CounterMetricFamily(
            "toxiproxy_proxy_received_bytes",
            "Bytes a link read from the sending side, before its toxics (Toxiproxy's name).",
            labels=("direction", "proxy", "listener", "upstream"),
        )
        sent = CounterMetricFamily(
            "toxiproxy_proxy_sent_bytes",
            "Bytes a link wrote on, after its toxics (Toxiproxy's name).",
            labels=("direction", "proxy", "listener", "upstream"),
        )
        live = {proxy.name: proxy for proxy in self._proxies}
        for link, stats in sorted(self._proxies.stats.items()):
            proxy = live.get(link)
            if proxy is None:
                continue
            for direction in Direction:
                labels = (direction.wire, link, proxy.listen, proxy.upstream)
                received.add_metric(labels, stats.received[direction])
                sent.add_metric(labels, stats.bytes[direction])
                by_bytes.add_metric((link, direction.wire), stats.bytes[direction])
                datagrams.add_metric((link, direction.wire), stats.datagrams[direction])
            connections.add_metric((link,), stats.connections)
            active.add_metric((link,), stats.active)
            upstream_errors.add_metric((link,), stats.upstream_errors)
            for toxic, count in sorted(stats.dropped.items()):
                dropped.add_metric((link, toxic), count)
        for proxy in self._proxies:
            counts = dict.fromkeys(registry.types_for(proxy.protocol), 0)
            counts.pop("noop", None)
            counts[PARTITION] = 0 if proxy.enabled else 1
            for installed in proxy.toxics:
                if installed.type != "noop":
                    counts[installed.type] = counts.get(installed.type, 0) + 1
            for kind, count in sorted(counts.items()):
                faults.add_metric((proxy.name, kind), count)
        yield from (by_bytes, datagrams, connections, active, upstream_errors, dropped, faults)
        yield from (received, sent)
        yield GaugeMetricFamily(
            "fallacies_proxy_audit_bytes",
            f"Size of the audit log as JSON; at most {MAX_LOG_BYTES} bytes, oldest entries go.",
            value=self._audit.bytes,
        )
