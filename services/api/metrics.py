"""Every Prometheus series the API exposes, created on an injected registry.

Labels are bounded: route templates (``/kv/{key}``, never the key), methods,
status codes, reject reasons from a fixed set, and peer replica ids from the
configuration — never keys, item ids or addresses. ``docs/api.md`` tables the same
series; a test keeps the two in step.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LAG_BUCKETS = (
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
    300.0,
)


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "fallacies_api_requests_total",
            "HTTP requests served, by route template, method and status code.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "fallacies_api_request_duration_seconds",
            "Time from request received to response ready, by route template.",
            ["route"],
            registry=registry,
        )
        self.response_bytes = Counter(
            "fallacies_api_response_bytes_total",
            "Response body bytes as sent (after gzip), by route template.",
            ["route"],
            registry=registry,
        )
        self.rejects = Counter(
            "fallacies_api_rejects_total",
            "Requests refused before doing any work, by reason (e.g. RequestTimeTooSkewed).",
            ["reason"],
            registry=registry,
        )
        self.idempotent_replays = Counter(
            "fallacies_api_idempotent_replays_total",
            "Writes answered from the idempotency store instead of being applied again.",
            registry=registry,
        )
        self.writes = Counter(
            "fallacies_api_writes_total",
            "Key/value writes, by source (client|replication) and outcome (applied|stale).",
            ["source", "outcome"],
            registry=registry,
        )
        self.kv_keys = Gauge(
            "fallacies_api_kv_keys", "Keys held by this replica.", registry=registry
        )
        self.replication_lag = Histogram(
            "fallacies_api_replication_lag_seconds",
            "Seconds from a write being queued here to the peer acknowledging it.",
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self.replication_queue_depth = Gauge(
            "fallacies_api_replication_queue_depth",
            "Keys written here and not yet acknowledged by the peer.",
            ["peer"],
            registry=registry,
        )
        self.replication_oldest_pending = Gauge(
            "fallacies_api_replication_oldest_pending_seconds",
            "Age of the oldest write not yet acknowledged by the peer (0 when none).",
            ["peer"],
            registry=registry,
        )
        self.replication_attempts = Counter(
            "fallacies_api_replication_attempts_total",
            "Replication batches sent, by peer and outcome (ok|unreachable|rejected|forged).",
            ["peer", "outcome"],
            registry=registry,
        )
        self.divergent_keys = Gauge(
            "fallacies_api_replica_divergent_keys",
            "Keys on which this replica and a peer are known to differ (anti-entropy + queue).",
            registry=registry,
        )
        self.anti_entropy_runs = Counter(
            "fallacies_api_anti_entropy_runs_total",
            "Digest comparisons with a peer, by peer and outcome (ok|unreachable|rejected|forged).",
            ["peer", "outcome"],
            registry=registry,
        )
        self.key_rotations = Counter(
            "fallacies_api_key_rotations_total",
            "Signing keys rotated through the admin API, by use (request|response).",
            ["use"],
            registry=registry,
        )
        self.catalog_bytes = Gauge(
            "fallacies_api_catalog_bytes",
            "Size of the full catalog document, by content coding (identity|gzip).",
            ["coding"],
            registry=registry,
        )
        self.catalog_version = Gauge(
            "fallacies_api_catalog_version",
            "Version of the catalog being served.",
            registry=registry,
        )
        self.catalog_build_seconds = Gauge(
            "fallacies_api_catalog_build_seconds",
            "Time spent generating, serialising and compressing the catalog.",
            registry=registry,
        )
