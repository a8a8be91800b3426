"""The signals the experiments name: one small definition each, PromQL-like selectors.

A signal is one of five shapes over a window of snapshots, narrowed to the client
(``client="naive|resilient"``) unless ``per_client=False`` (a property of the API
replicas, the same for both clients):

``Increase``   how much counters grew              ``forged_accepted``
``Rate``       that growth per second              ``journeys_ok_per_s``
``Ratio``      growth of one over growth of another ``journey_success_ratio``
``Quantile``   a histogram's quantile               ``journey_p99_seconds``
``Gauge``      a gauge's max / mean / last          ``clock_offset_abs_seconds``

Adding a signal is one entry in ``LIBRARY``; ``chaos.signals.SIGNALS`` registers it by
name. The names are a contract with the experiment files; the selectors are checked
against the services' real registries by ``tests/signals``.

Each definition is also the signal's PromQL (``promql``, over Prometheus's last
``WINDOW``) under its recorded name (``record``): ``python dashboards/generate.py``
writes the recording rules and the dashboards' queries from it, so the runner, the
report, Grafana and the alerts read one definition.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from chaos.signals import window as w
from chaos.signals.base import Signal, Snapshot
from chaos.signals.window import Combine, Selector, sel
from services.workload.config import ApiSettings

__all__ = [
    "BASELINE",
    "JOURNEYS",
    "LIBRARY",
    "WINDOW",
    "Gauge",
    "Increase",
    "LibrarySignal",
    "Quantile",
    "Rate",
    "Ratio",
    "replica_latency",
    "replica_share",
    "replica_slug",
]


WINDOW = "30s"
"""The range of the recorded series: 15-30 scrapes at 1-2 s, shorter than a fault."""
BASELINE = "fallacies_workload_journeys_in_flight"
"""A gauge each client exports from its first second: ``0 * max by (client) (...)``
gives a counter that has not appeared yet (no hedge, no DNS failure so far) a 0
rather than a gap in a chart."""


@dataclass(frozen=True, kw_only=True)
class LibrarySignal(Signal):
    """Fields shared by every shape; ``selectors`` lists the series it reads."""

    name: str
    title: str
    unit: str
    description: str
    per_client: bool
    operation: ClassVar[str]
    """The ``operations`` part of the recorded name (level:metric:operations)."""

    def narrow(self, selector: Selector, client: str) -> Selector:
        return selector.where(client=client) if self.per_client else selector

    @property
    def record(self) -> str:
        """The recorded series: ``client:<name>:<operation>`` (``mesh:`` when not per client)."""
        return f"{'client' if self.per_client else 'mesh'}:{self.name}:{self.operation}"

    @property
    def by(self) -> str:
        return "by (client) " if self.per_client else ""

    @abc.abstractmethod
    def promql(self) -> str:
        """The same value as ``value`` over Prometheus's last ``WINDOW``, per client."""

    def counter(self, function: str, selector: Selector) -> str:
        """``function`` (rate, increase) of counters summed, 0 before their first event."""
        expr = f"sum {self.by}({function}({selector}[{WINDOW}]))"
        return f"{expr} or 0 * max by (client) ({BASELINE})" if self.per_client else expr

    @property
    @abc.abstractmethod
    def selectors(self) -> tuple[Selector, ...]:
        """Every selector the signal reads, as the raw sample names it looks up."""


@dataclass(frozen=True, kw_only=True)
class Increase(LibrarySignal):
    metric: Selector
    operation: ClassVar[str] = f"increase{WINDOW}"

    def value(self, window: Sequence[Snapshot], client: str) -> float | None:
        return w.increase(window, self.narrow(self.metric, client))

    def promql(self) -> str:
        return self.counter("increase", self.metric)

    @property
    def selectors(self) -> tuple[Selector, ...]:
        return (self.metric,)


@dataclass(frozen=True, kw_only=True)
class Rate(LibrarySignal):
    metric: Selector
    operation: ClassVar[str] = f"rate{WINDOW}"

    def value(self, window: Sequence[Snapshot], client: str) -> float | None:
        return w.rate(window, self.narrow(self.metric, client))

    def promql(self) -> str:
        return self.counter("rate", self.metric)

    @property
    def selectors(self) -> tuple[Selector, ...]:
        return (self.metric,)


@dataclass(frozen=True, kw_only=True)
class Ratio(LibrarySignal):
    numerator: Selector
    denominator: Selector
    scale: float = 1.0
    operation: ClassVar[str] = f"ratio_rate{WINDOW}"

    def promql(self) -> str:
        """No finished journey in the window: no value (``> 0``), as the runner says."""
        scale = f"{self.scale:g} * " if self.scale != 1.0 else ""
        denominator = f"sum {self.by}(rate({self.denominator}[{WINDOW}]))"
        return f"{scale}({self.counter('rate', self.numerator)}) / ({denominator} > 0)"

    def value(self, window: Sequence[Snapshot], client: str) -> float | None:
        return w.ratio(
            window,
            self.narrow(self.numerator, client),
            self.narrow(self.denominator, client),
            scale=self.scale,
        )

    @property
    def selectors(self) -> tuple[Selector, ...]:
        return (self.numerator, self.denominator)


@dataclass(frozen=True, kw_only=True)
class Quantile(LibrarySignal):
    histogram: Selector
    """The histogram's base name (``..._seconds``); the ``_bucket`` series are read."""
    q: float
    operation: ClassVar[str] = f"quantile_rate{WINDOW}"

    def promql(self) -> str:
        by = "client, le" if self.per_client else "le"
        buckets = self.histogram.suffixed("_bucket")
        return f"histogram_quantile({self.q:g}, sum by ({by}) (rate({buckets}[{WINDOW}])))"

    def value(self, window: Sequence[Snapshot], client: str) -> float | None:
        return w.histogram_quantile(self.q, window, self.narrow(self.histogram, client))

    @property
    def selectors(self) -> tuple[Selector, ...]:
        return (self.histogram.suffixed("_bucket"),)


@dataclass(frozen=True, kw_only=True)
class Gauge(LibrarySignal):
    metric: Selector
    reduce: Literal["max", "mean", "last"] = "max"
    """Over time."""
    combine: Combine = "sum"
    """Across the series of one snapshot (e.g. ``max`` over the API replicas)."""
    operation: ClassVar[str] = f"max{WINDOW}"

    @property
    def record(self) -> str:
        reduce = {"max": f"max{WINDOW}", "mean": f"avg{WINDOW}", "last": "last"}[self.reduce]
        return super().record.rsplit(":", 1)[0] + f":{reduce}"

    def promql(self) -> str:
        if self.combine == "absmax":
            combined = f"max {self.by}(abs({self.metric}))"
        else:
            combined = f"{self.combine} {self.by}({self.metric})"
        if self.reduce == "last":
            return combined
        over = {"max": "max_over_time", "mean": "avg_over_time"}[self.reduce]
        return f"{over}(({combined})[{WINDOW}:1s])"

    def value(self, window: Sequence[Snapshot], client: str) -> float | None:
        selector = self.narrow(self.metric, client)
        if self.reduce == "max":
            return w.gauge_max(window, selector, combine=self.combine)
        if self.reduce == "mean":
            return w.gauge_mean(window, selector, combine=self.combine)
        return w.gauge_last(window, selector, combine=self.combine)

    @property
    def selectors(self) -> tuple[Selector, ...]:
        return (self.metric,)


# -- parametrised signals -------------------------------------------------------------


def replica_slug(replica: str) -> str:
    """``api-1`` → ``api1``: the prefix of a replica's signal names."""
    return "".join(ch for ch in replica if ch.isalnum()).lower()


def replica_share(replica: str) -> Ratio:
    """Share of the client's requests sent to ``replica`` (fallacy 8: balancing)."""
    return Ratio(
        name=f"{replica_slug(replica)}_share",
        title=f"Requests to {replica}",
        unit="ratio",
        description=(
            f"Share of the client's HTTP requests sent to {replica}: round-robin keeps "
            "it at 1/2 however slow the replica is; latency-aware balancing moves off it."
        ),
        per_client=True,
        numerator=sel(f'fallacies_workload_requests_total{{replica="{replica}"}}'),
        denominator=sel("fallacies_workload_requests_total"),
    )


def replica_latency(replica: str, q: float) -> Quantile:
    """The q-quantile of answered requests' time at ``replica`` (fallacy 8)."""
    pct = f"p{round(q * 100):d}"
    return Quantile(
        name=f"{replica_slug(replica)}_latency_{pct}_seconds",
        title=f"{replica} latency {pct}",
        unit="seconds",
        description=(
            f"{pct} of answered requests to {replica}: a link on an LTE-like profile "
            "shows here, whichever client pays for it."
        ),
        per_client=True,
        histogram=sel(f'fallacies_workload_replica_latency_seconds{{replica="{replica}"}}'),
        q=q,
    )


REPLICAS: tuple[str, ...] = ApiSettings().replicas
"""The workload's default ``api.replicas``: the values its ``replica`` label takes."""

JOURNEYS = sel("fallacies_workload_journeys_total")
"""Every finished journey, any outcome (the runner's warm-up and the console count them)."""

BUILT_IN_CLIENTS = ("naive", "resilient")


def clients_in(snapshot: Snapshot) -> tuple[str, ...]:
    """The two clients, then any of one's own the workload runs (``up/run --client``): its
    journeys series are born at 0, so a scrape names every client before any journey ends."""
    values = snapshot.values
    keys = (
        values.named(JOURNEYS.name)
        if isinstance(values, w.SeriesMap)
        else [key for key in values if key[0] == JOURNEYS.name]
    )
    seen = (w.label(labels, "client") for _, labels in keys)
    return tuple(dict.fromkeys([*BUILT_IN_CLIENTS, *(c for c in seen if c)]))


LIBRARY: tuple[LibrarySignal, ...] = (
    # -- journeys: every fallacy ends here ----------------------------------------------
    Ratio(
        name="journey_success_ratio",
        title="Journey success ratio",
        unit="ratio",
        description="Share of finished journeys that ended ok; None when none finished "
        "(a stalled client — see journeys_ok_per_s).",
        per_client=True,
        numerator=sel('fallacies_workload_journeys_total{outcome="ok"}'),
        denominator=JOURNEYS,
    ),
    Rate(
        name="journeys_ok_per_s",
        title="Successful journeys per second",
        unit="1/s",
        description="Journeys finishing ok per second: a client stuck without a timeout "
        "shows 0 here, where the success ratio has nothing to divide.",
        per_client=True,
        metric=sel('fallacies_workload_journeys_total{outcome="ok"}'),
    ),
    Increase(
        name="error_journeys",
        title="Failed journeys",
        unit="count",
        description="Journeys that ended in anything but ok (the outcome label says which).",
        per_client=True,
        metric=sel('fallacies_workload_journeys_total{outcome!="ok"}'),
    ),
    Quantile(
        name="journey_p99_seconds",
        title="Journey duration p99",
        unit="seconds",
        description="Tail of the journey's wall time (fallacy 2: latency is not zero); "
        "only finished journeys count, so a stuck client has none.",
        per_client=True,
        histogram=sel("fallacies_workload_journey_duration_seconds"),
        q=0.99,
    ),
    Quantile(
        name="journey_p50_seconds",
        title="Journey duration p50",
        unit="seconds",
        description="Median journey wall time: what a typical user waits.",
        per_client=True,
        histogram=sel("fallacies_workload_journey_duration_seconds"),
        q=0.5,
    ),
    Gauge(
        name="journeys_in_flight",
        title="Journeys in flight",
        unit="count",
        description="Peak of journeys started and not finished: 1 for the whole fault "
        "means a journey hung (no deadline).",
        per_client=True,
        metric=sel("fallacies_workload_journeys_in_flight"),
    ),
    Gauge(
        name="journey_age_seconds",
        title="Age of the running journey",
        unit="seconds",
        description="Longest a journey had been running within the window, 0 between "
        "journeys: it climbs when a client is stuck, where ratios and quantiles have no "
        "finished journey to show.",
        per_client=True,
        metric=sel("fallacies_workload_journey_age_seconds"),
    ),
    Gauge(
        name="requests_in_flight",
        title="Requests in flight",
        unit="count",
        description="Peak of HTTP requests sent and not answered: hedges raise it on "
        "purpose, a hung request holds it.",
        per_client=True,
        metric=sel("fallacies_workload_requests_in_flight"),
    ),
    # -- bandwidth and transport cost (fallacies 3 and 7) -------------------------------
    Ratio(
        name="bytes_per_journey",
        title="Bytes received per journey",
        unit="bytes",
        description="Wire bytes received per finished journey: the full uncompressed "
        "catalog every time versus gzip, ETag/304 and compact batches.",
        per_client=True,
        numerator=sel("fallacies_workload_received_bytes_total"),
        denominator=JOURNEYS,
    ),
    Rate(
        name="received_bytes_per_s",
        title="Bytes received per second",
        unit="bytes/s",
        description="Wire bytes received per second: what a bandwidth cap divides.",
        per_client=True,
        metric=sel("fallacies_workload_received_bytes_total"),
    ),
    Ratio(
        name="requests_per_journey",
        title="Requests per journey",
        unit="count",
        description="HTTP requests per finished journey (retries, hedges, discovery "
        "included): N+1 calls versus one batch.",
        per_client=True,
        numerator=sel("fallacies_workload_requests_total"),
        denominator=JOURNEYS,
    ),
    Ratio(
        name="transport_cost_per_journey",
        title="Transport cost per journey",
        unit="dollars",
        description="Bytes × price per GB + requests × price per request, per finished "
        "journey: transport cost is not zero.",
        per_client=True,
        numerator=sel("fallacies_workload_transport_cost_dollars_total"),
        denominator=JOURNEYS,
    ),
    Ratio(
        name="transport_cost_per_1k_journeys",
        title="Transport cost per 1000 journeys",
        unit="dollars",
        description="The same cost per thousand journeys, a number people can read.",
        per_client=True,
        numerator=sel("fallacies_workload_transport_cost_dollars_total"),
        denominator=JOURNEYS,
        scale=1000.0,
    ),
    Quantile(
        name="catalog_fetch_p99_seconds",
        title="Catalog fetch p99",
        unit="seconds",
        description="Tail of the catalog step under a bandwidth cap: 1.2 MB uncompressed "
        "versus gzip or a 304.",
        per_client=True,
        histogram=sel('fallacies_workload_step_duration_seconds{step="catalog"}'),
        q=0.99,
    ),
    Increase(
        name="not_modified",
        title="Catalog reads answered 304",
        unit="count",
        description="ETag hits: catalog reads that cost headers only.",
        per_client=True,
        metric=sel("fallacies_workload_not_modified_total"),
    ),
    # -- reliability (fallacy 1) --------------------------------------------------------
    Increase(
        name="retries",
        title="Retries",
        unit="count",
        description="Requests sent again after a failed attempt (backoff with jitter).",
        per_client=True,
        metric=sel("fallacies_workload_retries_total"),
    ),
    Increase(
        name="hedges",
        title="Hedged requests",
        unit="count",
        description="Requests duplicated to another replica after a deadline (won or lost).",
        per_client=True,
        metric=sel("fallacies_workload_hedges_total"),
    ),
    Increase(
        name="hedges_won",
        title="Hedged requests won",
        unit="count",
        description="Hedges whose answer came first: the slow first request was overtaken.",
        per_client=True,
        metric=sel('fallacies_workload_hedges_total{outcome="won"}'),
    ),
    Increase(
        name="write_replays",
        title="Writes deduplicated",
        unit="count",
        description="Retried writes the API recognised by Idempotency-Key and did not "
        "apply twice: duplicates prevented.",
        per_client=True,
        metric=sel("fallacies_workload_write_replays_total"),
    ),
    Gauge(
        name="replica_divergence",
        title="Divergent keys between replicas",
        unit="count",
        description="Peak over the API replicas of keys known to differ from a peer: "
        "rises during a replication partition, back to 0 once they agree. Not per client.",
        per_client=False,
        metric=sel("fallacies_api_replica_divergent_keys"),
        combine="max",
    ),
    # -- security (fallacy 4) -----------------------------------------------------------
    Increase(
        name="forged_accepted",
        title="Forged responses accepted",
        unit="count",
        description="Answers whose signature does not verify that the client used anyway.",
        per_client=True,
        metric=sel('fallacies_workload_forged_responses_total{action="accepted"}'),
    ),
    Increase(
        name="forged_rejected",
        title="Forged responses rejected",
        unit="count",
        description="Answers refused because their signature does not verify.",
        per_client=True,
        metric=sel('fallacies_workload_forged_responses_total{action="rejected"}'),
    ),
    # -- topology and DNS (fallacies 5 and 8) -------------------------------------------
    Increase(
        name="stale_endpoint_errors",
        title="Stale-endpoint errors",
        unit="count",
        description="Connection failures to an address DNS no longer publishes: a client "
        "that cached a record past its TTL.",
        per_client=True,
        metric=sel("fallacies_workload_stale_endpoint_errors_total"),
    ),
    Increase(
        name="dns_failures",
        title="DNS failures",
        unit="count",
        description="DNS queries without a usable answer, any transport and reason.",
        per_client=True,
        metric=sel("fallacies_workload_dns_failures_total"),
    ),
    Increase(
        name="dns_large_answer_failures",
        title="DNS failures on large answers",
        unit="count",
        description="Queries lost to a truncated or cut datagram (TC set, or a 512-byte "
        "path): fallacy 8, a client that never falls back to TCP.",
        per_client=True,
        metric=sel('fallacies_workload_dns_failures_total{reason=~"truncated|malformed"}'),
    ),
    Increase(
        name="dns_tcp_lookups",
        title="DNS lookups over TCP",
        unit="count",
        description="Queries retried over TCP after a truncated UDP answer.",
        per_client=True,
        metric=sel('fallacies_workload_dns_lookups_total{transport="tcp"}'),
    ),
    # -- administrators: clocks and keys (fallacy 6) ------------------------------------
    Gauge(
        name="clock_offset_abs_seconds",
        title="Clock offset (absolute)",
        unit="seconds",
        description="Peak |client clock − true clock|: one lying time server moves a "
        "naive client; a falseticker filter does not follow it.",
        per_client=True,
        metric=sel("fallacies_workload_clock_offset_seconds"),
        combine="absmax",
    ),
    Increase(
        name="rejected_skew",
        title="Requests rejected for clock skew",
        unit="count",
        description="403 RequestTimeTooSkewed answers: the client's timestamps are off by "
        "more than the API tolerates.",
        per_client=True,
        metric=sel('fallacies_workload_rejects_total{reason="RequestTimeTooSkewed"}'),
    ),
    Increase(
        name="rejected_key",
        title="Requests rejected for the key",
        unit="count",
        description="401 answers for the signing key (retired key id, or a secret that "
        "no longer matches) after another administrator rotated it.",
        per_client=True,
        metric=sel(
            'fallacies_workload_rejects_total{reason=~"InvalidKeyId|SignatureDoesNotMatch"}'
        ),
    ),
    Increase(
        name="key_discoveries",
        title="Key discoveries",
        unit="count",
        description="Successful key discoveries (/.well-known/keys) after a 401.",
        per_client=True,
        metric=sel('fallacies_workload_key_discoveries_total{outcome="ok"}'),
    ),
    # -- per replica (fallacy 8) --------------------------------------------------------
    *(replica_share(replica) for replica in REPLICAS),
    *(replica_latency(replica, q) for replica in REPLICAS for q in (0.5, 0.99)),
)
