"""Every registered signal on snapshots parsed from the services' real registries.

The snapshots come from ``WorkloadMetrics`` and ``ApiMetrics`` on fresh registries,
exposed with ``generate_latest`` and parsed by the sampler's own parser, so a
misspelt metric or label value shows up as a wrong number here.
"""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry

from chaos.signals import SIGNALS, register
from chaos.signals.base import Snapshot
from chaos.signals.library import (
    LIBRARY,
    REPLICAS,
    Gauge,
    Increase,
    Quantile,
    Rate,
    Ratio,
    replica_latency,
    replica_share,
)
from services.api.metrics import ApiMetrics
from services.workload.metrics import WorkloadMetrics
from tests.signals.helpers import scrape


class Mesh:
    """The metric objects of one workload and two API replicas, scraped on demand."""

    def __init__(self) -> None:
        self.registries = {name: CollectorRegistry() for name in ("workload", "api-1", "api-2")}
        self.now = 100.0
        self.w = WorkloadMetrics(
            self.registries["workload"], replicas=REPLICAS, monotonic=lambda: self.now
        )
        self.api = {name: ApiMetrics(self.registries[name]) for name in ("api-1", "api-2")}

    def scrape(self, t: float) -> Snapshot:
        return scrape(t, self.registries)


def naive_second(m: WorkloadMetrics, offset: float) -> None:
    """One second of a naive client under every fault at once."""
    c = "naive"
    m.journeys.labels(c, "ok").inc()
    m.journeys.labels(c, "timeout").inc()
    m.journey_duration.labels(c).observe(0.3)
    m.journey_duration.labels(c).observe(7.0)
    m.requests.labels(c, "api-1").inc(3)
    m.requests.labels(c, "api-2").inc(3)
    m.received_bytes.labels(c).inc(1_200_000)
    m.transport_cost.labels(c).inc(0.0002)
    m.step_duration.labels(c, "catalog").observe(2.0)
    m.step_duration.labels(c, "items").observe(9.0)  # another step: must not leak in
    m.forged_responses.labels(c, "accepted").inc()
    m.stale_endpoint_errors.labels(c).inc()
    m.dns_failures.labels(c, "udp", "truncated").inc()
    m.dns_lookups.labels(c, "udp").inc(2)
    m.clock_offset.labels(c).set(offset)
    for reason in ("RequestTimeTooSkewed", "InvalidKeyId", "SignatureDoesNotMatch"):
        m.rejects.labels(c, reason).inc()
    m.rejects.labels(c, "MissingSignature").inc()  # not a key problem: not in rejected_key
    m.replica_latency.labels(c, "api-1").observe(0.4)
    m.replica_latency.labels(c, "api-2").observe(0.02)


def resilient_second(m: WorkloadMetrics) -> None:
    c = "resilient"
    m.journeys.labels(c, "ok").inc(2)
    m.journey_duration.labels(c).observe(0.2)
    m.journey_duration.labels(c).observe(0.2)
    m.requests.labels(c, "api-1").inc(1)
    m.requests.labels(c, "api-2").inc(5)
    m.received_bytes.labels(c).inc(200_000)
    m.transport_cost.labels(c).inc(0.00005)
    m.step_duration.labels(c, "catalog").observe(0.3)
    m.forged_responses.labels(c, "rejected").inc()
    m.dns_lookups.labels(c, "udp").inc()
    m.dns_lookups.labels(c, "tcp").inc()
    m.dns_failures.labels(c, "udp", "truncated").inc()
    m.clock_offset.labels(c).set(0.001)
    m.retries.labels(c).inc(2)
    m.hedges.labels(c, "won").inc()
    m.hedges.labels(c, "lost").inc()
    m.write_replays.labels(c).inc()
    m.not_modified.labels(c).inc()
    m.key_discoveries.labels(c, "ok").inc()
    m.key_discoveries.labels(c, "failed").inc()  # only successful discoveries count
    m.replica_latency.labels(c, "api-1").observe(0.15)
    m.replica_latency.labels(c, "api-2").observe(0.03)


@pytest.fixture(scope="module")
def window() -> list[Snapshot]:
    """t=0: history before the window (5 ok journeys each); t=1, t=2: two busy seconds."""
    mesh = Mesh()
    for client in ("naive", "resilient"):
        mesh.w.journeys.labels(client, "ok").inc(5)
        mesh.w.journey_duration.labels(client).observe(50.0)
        mesh.w.requests.labels(client, "api-1").inc(40)
    snaps = [mesh.scrape(0.0)]
    for t, (offset, divergence) in enumerate([(-3.0, (4, 7)), (2.0, (0, 2))], start=1):
        naive_second(mesh.w, offset)
        resilient_second(mesh.w)
        if t == 1:
            mesh.w.journey_started("naive")  # and it never ends: 1 s old, then 2 s
        mesh.now += 1.0
        mesh.w.journeys_in_flight.labels("naive").set(1)
        mesh.w.requests_in_flight.labels("naive").set(1)
        mesh.w.journeys_in_flight.labels("resilient").set(1 if t == 1 else 0)
        mesh.api["api-1"].divergent_keys.set(divergence[0])
        mesh.api["api-2"].divergent_keys.set(divergence[1])
        snaps.append(mesh.scrape(float(t)))
    return snaps


# Hand-computed over t=0..2: two busy seconds. Quantiles interpolate in the workload's
# duration buckets (…0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10…).
EXPECTED: dict[str, tuple[float | None, float | None]] = {
    #                              naive,       resilient
    "journey_success_ratio": (0.5, 1.0),
    "journeys_ok_per_s": (1.0, 2.0),
    "error_journeys": (2, 0),
    # naive: 2 × 0.3 s in (0.25, 0.5], 2 × 7 s in (5, 10]; rank 2 → 0.5, rank 3.96 → 9.9
    # resilient: 4 × 0.2 s in (0.1, 0.25]; rank 2 of 4 → 0.175, rank 3.96 → 0.2485
    "journey_p50_seconds": (0.5, 0.175),
    "journey_p99_seconds": (9.9, 0.2485),
    "journeys_in_flight": (1, 1),
    "requests_in_flight": (1, 0),
    "bytes_per_journey": (600_000, 100_000),
    "received_bytes_per_s": (1_200_000, 200_000),
    "requests_per_journey": (3, 3),
    "transport_cost_per_journey": (0.0001, 0.000025),
    "transport_cost_per_1k_journeys": (0.1, 0.025),
    # naive 2 × 2.0 s in (1, 2.5]: 1 + 1.5 × 0.99; resilient 2 × 0.3 s: 0.25 + 0.25 × 0.99
    "catalog_fetch_p99_seconds": (2.485, 0.4975),
    "not_modified": (0, 2),
    "retries": (0, 4),
    "hedges": (0, 4),
    "hedges_won": (0, 2),
    "journey_age_seconds": (2.0, 0.0),
    "write_replays": (0, 2),
    "replica_divergence": (7, 7),
    "forged_accepted": (2, 0),
    "forged_rejected": (0, 2),
    "stale_endpoint_errors": (2, 0),
    "dns_failures": (2, 2),
    "dns_large_answer_failures": (2, 2),
    "dns_tcp_lookups": (0, 2),
    "clock_offset_abs_seconds": (3.0, 0.001),
    "rejected_skew": (2, 0),
    "rejected_key": (4, 0),
    "key_discoveries": (0, 2),
    "api1_share": (0.5, 2 / 12),
    "api2_share": (0.5, 10 / 12),
    # naive 2 × 0.4 s in (0.25, 0.5]: rank 1 → 0.375, rank 1.98 → 0.4975
    # resilient 2 × 0.15 s in (0.1, 0.25]: 0.1 + 0.15 × 0.5, 0.1 + 0.15 × 0.99
    "api1_latency_p50_seconds": (0.375, 0.175),
    "api1_latency_p99_seconds": (0.4975, 0.2485),
    # 2 × 0.02 s in (0.01, 0.025]: 0.0175, 0.02485; resilient 0.03 s in (0.025, 0.05]
    "api2_latency_p50_seconds": (0.0175, 0.0375),
    "api2_latency_p99_seconds": (0.02485, 0.04975),
}


def test_every_registered_signal_has_a_pinned_value() -> None:
    """Adding a signal means adding its hand-computed numbers above."""
    assert set(EXPECTED) == set(SIGNALS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_signal_value(name: str, window: list[Snapshot]) -> None:
    signal = SIGNALS[name]
    for client, expected in zip(("naive", "resilient"), EXPECTED[name], strict=True):
        got = signal.value(window, client)
        assert got == pytest.approx(expected), f"{name} for {client}"


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_every_signal_moves_on_a_busy_window(name: str, window: list[Snapshot]) -> None:
    """A misspelt name reads nothing: 0 or None for both clients."""
    values = [SIGNALS[name].value(window, client) for client in ("naive", "resilient")]
    assert all(v is not None and math.isfinite(v) for v in values)
    assert any(v for v in values)


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_every_signal_is_none_or_zero_on_a_quiet_window(name: str, window: list[Snapshot]) -> None:
    """The same snapshot twice: nothing happened — no ratio, no quantile, counts of 0."""
    quiet = [window[0], Snapshot(t=1.0, values=window[0].values)]
    signal = SIGNALS[name]
    for client in ("naive", "resilient"):
        value = signal.value(quiet, client)
        if isinstance(signal, Ratio | Quantile):
            assert value is None
        elif isinstance(signal, Increase | Rate):
            assert value == 0
        if not isinstance(signal, Gauge):
            assert signal.value(window[-1:], client) is None, "one snapshot has no delta"


def test_stalled_client_reads_zero_rate_but_no_ratio(window: list[Snapshot]) -> None:
    stalled = [window[0], Snapshot(t=5.0, values=window[0].values)]
    assert SIGNALS["journeys_ok_per_s"].value(stalled, "naive") == 0
    assert SIGNALS["journey_success_ratio"].value(stalled, "naive") is None


def test_signals_are_described() -> None:
    for name, signal in SIGNALS.items():
        assert signal.name == name
        assert signal.title and signal.unit and signal.description, name
        assert "\n" not in signal.description, "one line: the report prints it as is"


def test_parametrised_signals_for_another_replica(window: list[Snapshot]) -> None:
    share = replica_share("other")
    assert share.name == "other_share"
    assert share.value(window, "naive") == 0
    latency = replica_latency("api-1", 0.5)
    assert latency.name == "api1_latency_p50_seconds"
    assert latency.value(window, "naive") == pytest.approx(0.375)


def test_register_refuses_a_duplicate_name() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(LIBRARY[0])
