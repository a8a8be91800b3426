"""Every series the workload exposes, on an injected registry.

Each is labelled ``client="naive|resilient"`` (or a client of one's own, ``own.py``) so
a dashboard can put them side by side. Labels are bounded: replica names come from
the configured allowlist (or ``other``), servers from the configured NTP names,
reasons and outcomes from the fixed tuples below — never keys, addresses or ids.
``METRICS.md`` beside this file tables the same series; a test keeps the two in step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.workload._types import BUILT_IN

OUTCOMES: Final = (
    "ok",
    "dns_failure",
    "stale_endpoint",
    "network_error",
    "timeout",
    "rejected_skew",
    "rejected_key",
    "forged",
    "http_error",
    "error",
)
"""Journey outcomes; ``error`` is the catch-all for anything unforeseen (a bug, not a fault)."""

HOPS: Final = ("dns", "connect", "request", "response")
STEPS: Final = ("resolve", "write", "catalog", "items")
TRANSPORTS: Final = ("udp", "tcp")
DNS_FAILURE_REASONS: Final = ("timeout", "truncated", "malformed", "rcode", "no_answer", "network")
REJECT_REASONS: Final = (
    "RequestTimeTooSkewed",
    "InvalidKeyId",
    "SignatureDoesNotMatch",
    "MissingSignature",
    "InvalidTimestamp",
    "other",
)
OTHER: Final = "other"

_DURATION_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
)
_REQUEST_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32, 64, 128)
_BYTES_BUCKETS = (1e3, 4e3, 16e3, 64e3, 256e3, 1e6, 2e6, 4e6, 16e6, 64e6)


class WorkloadMetrics:
    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        replicas: tuple[str, ...] = (),
        clients: tuple[str, ...] = BUILT_IN,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.replicas = frozenset(replicas)
        self._now = monotonic
        r = registry
        self.journeys = Counter(
            "fallacies_workload_journeys_total",
            "Journeys finished, by outcome.",
            ["client", "outcome"],
            registry=r,
        )
        self.journey_duration = Histogram(
            "fallacies_workload_journey_duration_seconds",
            "Wall time of one journey, whatever its outcome.",
            ["client"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.journey_requests = Histogram(
            "fallacies_workload_journey_requests",
            "HTTP requests sent during one journey (attempts, retries and hedges included).",
            ["client"],
            buckets=_REQUEST_BUCKETS,
            registry=r,
        )
        self.journey_bytes = Histogram(
            "fallacies_workload_journey_bytes",
            "Bytes sent plus received over HTTP during one journey.",
            ["client"],
            buckets=_BYTES_BUCKETS,
            registry=r,
        )
        self.journeys_in_flight = Gauge(
            "fallacies_workload_journeys_in_flight",
            "Journeys started and not yet finished.",
            ["client"],
            registry=r,
        )
        self.journey_age = Gauge(
            "fallacies_workload_journey_age_seconds",
            "How long the journey running now has been running; 0 between journeys. "
            "A client stuck waiting shows it growing while no journey finishes.",
            ["client"],
            registry=r,
        )
        self._running_since: dict[str, float | None] = {}
        self.step_duration = Histogram(
            "fallacies_workload_step_duration_seconds",
            "Wall time of one journey step (resolve, write, catalog, items).",
            ["client", "step"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "fallacies_workload_requests_total",
            "HTTP requests sent, by replica (node name from DNS).",
            ["client", "replica"],
            registry=r,
        )
        self.requests_in_flight = Gauge(
            "fallacies_workload_requests_in_flight",
            "HTTP requests sent and not yet answered.",
            ["client"],
            registry=r,
        )
        self.received_bytes = Counter(
            "fallacies_workload_received_bytes_total",
            "HTTP bytes received as on the wire (status line, headers, body before decompression).",
            ["client"],
            registry=r,
        )
        self.sent_bytes = Counter(
            "fallacies_workload_sent_bytes_total",
            "HTTP bytes sent (request line, headers, body).",
            ["client"],
            registry=r,
        )
        self.transport_cost = Counter(
            "fallacies_workload_transport_cost_dollars_total",
            "Transport cost: bytes x price per GB + requests x price per request.",
            ["client"],
            registry=r,
        )
        self.retries = Counter(
            "fallacies_workload_retries_total",
            "Requests sent again after a failed attempt.",
            ["client"],
            registry=r,
        )
        self.hedges = Counter(
            "fallacies_workload_hedges_total",
            "Hedged requests sent to another replica, by whether the "
            "hedge answered first (won) or not (lost).",
            ["client", "outcome"],
            registry=r,
        )
        self.write_replays = Counter(
            "fallacies_workload_write_replays_total",
            "Writes the API recognised by Idempotency-Key and "
            "did not apply again (a duplicate prevented).",
            ["client"],
            registry=r,
        )
        self.not_modified = Counter(
            "fallacies_workload_not_modified_total",
            "Catalog reads answered 304 Not Modified (ETag hit).",
            ["client"],
            registry=r,
        )
        self.dns_lookups = Counter(
            "fallacies_workload_dns_lookups_total",
            "DNS queries sent, by transport.",
            ["client", "transport"],
            registry=r,
        )
        self.dns_failures = Counter(
            "fallacies_workload_dns_failures_total",
            "DNS queries without a usable answer, by transport and reason.",
            ["client", "transport", "reason"],
            registry=r,
        )
        self.stale_endpoint_errors = Counter(
            "fallacies_workload_stale_endpoint_errors_total",
            "Connection failures to an endpoint DNS no longer publishes (checked out of band).",
            ["client"],
            registry=r,
        )
        self.clock_offset = Gauge(
            "fallacies_workload_clock_offset_seconds",
            "The client's clock minus the true system clock.",
            ["client"],
            registry=r,
        )
        self.ntp_selected = Gauge(
            "fallacies_workload_ntp_selected",
            "1 when the client's last sync believed this server.",
            ["client", "server"],
            registry=r,
        )
        self.ntp_falsetickers = Counter(
            "fallacies_workload_ntp_falsetickers_total",
            "Servers outvoted as falsetickers in a sync.",
            ["client", "server"],
            registry=r,
        )
        self.ntp_syncs = Counter(
            "fallacies_workload_ntp_syncs_total",
            "Clock synchronisations, by outcome (ok, no_majority, unreachable).",
            ["client", "outcome"],
            registry=r,
        )
        self.rejects = Counter(
            "fallacies_workload_rejects_total",
            "Requests the API refused for the client's credentials or clock, by reason.",
            ["client", "reason"],
            registry=r,
        )
        self.forged_responses = Counter(
            "fallacies_workload_forged_responses_total",
            "Responses whose signature does not verify, by what the client did with them.",
            ["client", "action"],
            registry=r,
        )
        self.key_discoveries = Counter(
            "fallacies_workload_key_discoveries_total",
            "Key discoveries after a 401, by outcome.",
            ["client", "outcome"],
            registry=r,
        )
        self.hop_duration = Histogram(
            "fallacies_workload_hop_duration_seconds",
            "The journey of a request, hop by hop: dns, connect "
            "(new connections only), request (sending), response (waiting + reading).",
            ["client", "hop"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.replica_latency = Histogram(
            "fallacies_workload_replica_latency_seconds",
            "Time of one answered request, per replica.",
            ["client", "replica"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        for client in clients:
            for metric in (self.journeys_in_flight, self.requests_in_flight, self.clock_offset):
                metric.labels(client).set(0)
            self._running_since[client] = None
            self.journey_age.labels(client).set_function(partial(self._age, client))
            for outcome in OUTCOMES:
                self.journeys.labels(client, outcome)
            for counter in (
                self.retries,
                self.received_bytes,
                self.sent_bytes,
                self.transport_cost,
                self.stale_endpoint_errors,
                self.write_replays,
                self.not_modified,
            ):
                counter.labels(client)
            for transport in TRANSPORTS:
                self.dns_lookups.labels(client, transport)
                # Born at 0, so the first failure is an increase a rate() can see.
                for reason in DNS_FAILURE_REASONS:
                    self.dns_failures.labels(client, transport, reason)
            for action in ("accepted", "rejected"):
                self.forged_responses.labels(client, action)
            for outcome in ("won", "lost"):
                self.hedges.labels(client, outcome)
            for outcome in ("ok", "failed"):
                self.key_discoveries.labels(client, outcome)
            for reason in ("RequestTimeTooSkewed", "InvalidKeyId"):
                self.rejects.labels(client, reason)

    def journey_started(self, client: str) -> None:
        self.journeys_in_flight.labels(client).inc()
        self._running_since[client] = self._now()

    def journey_ended(self, client: str) -> None:
        self.journeys_in_flight.labels(client).dec()
        self._running_since[client] = None

    def _age(self, client: str) -> float:
        since = self._running_since.get(client)
        return 0.0 if since is None else self._now() - since

    def replica_label(self, node: str) -> str:
        """The node name if configured, else ``other``: DNS (maybe forged) cannot mint labels."""
        return node if node in self.replicas else OTHER

    @staticmethod
    def reject_label(reason: str | None) -> str:
        return reason if reason in REJECT_REASONS else OTHER
