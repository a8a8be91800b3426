"""Window helpers on hand-built snapshots: the numbers a PromQL query would give."""

from __future__ import annotations

import math

import pytest

from chaos.signals.base import SeriesKey
from chaos.signals.window import (
    Selector,
    between,
    bucket_quantile,
    gauge_last,
    gauge_max,
    gauge_mean,
    gauge_points,
    histogram_quantile,
    increase,
    rate,
    ratio,
    sel,
    total,
)
from tests.signals.helpers import key, snap

J = "fallacies_workload_journeys_total"
INF = math.inf


def ok(client: str = "naive") -> SeriesKey:
    return key(J, client=client, outcome="ok")


def bad(client: str = "naive") -> SeriesKey:
    return key(J, client=client, outcome="timeout")


@pytest.fixture(params=[False, True], ids=["dict", "seriesmap"])
def indexed(request: pytest.FixtureRequest) -> bool:
    """Every helper must agree on a plain mapping and on the sampler's indexed one."""
    return bool(request.param)


# -- selectors ------------------------------------------------------------------------


def test_selector_parses_promql_matchers() -> None:
    s = sel('x_total{a="1", b!="2",c=~"p|q" ,d!~"z.*"}')
    assert s.name == "x_total"
    assert [(m.label, m.op, m.value) for m in s.matchers] == [
        ("a", "=", "1"),
        ("b", "!=", "2"),
        ("c", "=~", "p|q"),
        ("d", "!~", "z.*"),
    ]
    labels = (("a", "1"), ("b", "3"), ("c", "q"), ("d", "y"))
    assert s.matches(labels)
    assert not s.matches((("a", "1"), ("b", "3"), ("c", "pq"), ("d", "y"))), "regex is anchored"
    assert str(sel(str(s))) == str(s)


def test_selector_absent_label_is_empty_string() -> None:
    assert sel('x{a=""}').matches(())
    assert sel('x{a!="v"}').matches(())
    assert not sel('x{a="v"}').matches(())


def test_selector_escapes_and_where() -> None:
    s = sel(r'x{a="say \"hi\""}')
    assert s.matchers[0].value == 'say "hi"'
    assert sel("x").where(client="naive") == Selector.parse('x{client="naive"}')
    assert sel('x{a="1"}').suffixed("_bucket").name == "x_bucket"


@pytest.mark.parametrize("text", ["", "1x", "x{a=1}", 'x{a="1"', 'x{a~"1"}', 'x{a="1" b="2"}'])
def test_selector_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ValueError):
        sel(text)


# -- counters -------------------------------------------------------------------------


def test_total_sums_matching_series(indexed: bool) -> None:
    s = snap(0, {ok(): 3, bad(): 4, ok("resilient"): 100}, indexed=indexed)
    assert total(s, sel(J).where(client="naive")) == 7
    assert total(s, sel(f'{J}{{outcome="ok"}}')) == 103
    assert total(s, sel("nope")) is None


def test_increase_is_first_to_last_summed_over_series(indexed: bool) -> None:
    w = [
        snap(0, {ok(): 10, bad(): 1}, indexed=indexed),
        snap(1, {ok(): 12, bad(): 1}, indexed=indexed),
        snap(2, {ok(): 15, bad(): 3}, indexed=indexed),
    ]
    assert increase(w, sel(J)) == 7
    assert increase(w, sel(f'{J}{{outcome!="ok"}}')) == 2


def test_increase_counter_reset_mid_window(indexed: bool) -> None:
    # 10 → 15 (+5), restart → 3 (+3), → 5 (+2): PromQL's increase without extrapolation.
    values = [10, 15, 3, 5]
    w = [snap(t, {ok(): v}, indexed=indexed) for t, v in enumerate(values)]
    assert increase(w, sel(J)) == 10


def test_increase_reset_at_the_end_uses_the_last_value(indexed: bool) -> None:
    w = [snap(0, {ok(): 50}, indexed=indexed), snap(1, {ok(): 4}, indexed=indexed)]
    assert increase(w, sel(J)) == 4


def test_increase_counts_a_series_born_in_the_window_from_zero(indexed: bool) -> None:
    # The node was scraped at t=0 (it exposed another series) but had no "timeout" child.
    w = [snap(0, {ok(): 1}, indexed=indexed), snap(1, {ok(): 1, bad(): 2}, indexed=indexed)]
    assert increase(w, sel(f'{J}{{outcome="timeout"}}')) == 2


def test_increase_ignores_rounds_where_the_node_was_not_scraped(indexed: bool) -> None:
    other = key("fallacies_api_kv_keys", node="api-1")
    w = [
        snap(0, {ok(): 10, other: 1}, indexed=indexed),
        snap(1, {other: 1}, indexed=indexed),  # workload scrape failed: no fake reset
        snap(2, {ok(): 13, other: 1}, indexed=indexed),
    ]
    assert increase(w, sel(J)) == 3


def test_increase_baselines_at_first_sight_when_the_first_scrape_failed(indexed: bool) -> None:
    other = key("fallacies_api_kv_keys", node="api-1")
    w = [
        snap(0, {other: 1}, indexed=indexed),  # workload not scraped: its 1000 is history
        snap(1, {ok(): 1000, other: 1}, indexed=indexed),
        snap(2, {ok(): 1004, other: 1}, indexed=indexed),
    ]
    assert increase(w, sel(J)) == 4


def test_increase_none_below_two_snapshots_and_zero_without_series(indexed: bool) -> None:
    assert increase([], sel(J)) is None
    assert increase([snap(0, {ok(): 1}, indexed=indexed)], sel(J)) is None
    w = [snap(0, {ok(): 1}, indexed=indexed), snap(1, {ok(): 2}, indexed=indexed)]
    assert increase(w, sel("fallacies_workload_dns_failures_total")) == 0.0


def test_increase_skips_nan(indexed: bool) -> None:
    w = [snap(t, {ok(): v}, indexed=indexed) for t, v in enumerate([1, math.nan, 4])]
    assert increase(w, sel(J)) == 3


def test_rate_is_increase_per_second_of_the_window(indexed: bool) -> None:
    w = [snap(0.0, {ok(): 0}, indexed=indexed), snap(2.5, {ok(): 10}, indexed=indexed)]
    assert rate(w, sel(J)) == 4.0
    assert rate(w[:1], sel(J)) is None
    assert rate([snap(1, {ok(): 0}), snap(1, {ok(): 1})], sel(J)) is None


def test_ratio_of_increases_none_when_denominator_did_not_move(indexed: bool) -> None:
    w = [
        snap(0, {ok(): 5, bad(): 5}, indexed=indexed),
        snap(1, {ok(): 8, bad(): 6}, indexed=indexed),
    ]
    assert ratio(w, sel(f'{J}{{outcome="ok"}}'), sel(J)) == 0.75
    assert ratio(w, sel(f'{J}{{outcome="ok"}}'), sel(J), scale=100) == 75
    still = [snap(0, {ok(): 5}), snap(1, {ok(): 5})]
    assert ratio(still, sel(J), sel(J)) is None
    assert ratio(w[:1], sel(J), sel(J)) is None


# -- histograms -----------------------------------------------------------------------

# Cumulative buckets: 10 ≤ 0.1 s, 30 ≤ 0.5 s, 40 ≤ 1 s, 50 in all.
BUCKETS = [(0.1, 10.0), (0.5, 30.0), (1.0, 40.0), (INF, 50.0)]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # rank 25 → bucket (0.1, 0.5] holds 20, 15th of them: 0.1 + 0.4 × 15/20
        (0.5, 0.4),
        # rank 37.5 → bucket (0.5, 1] holds 10, 7.5th: 0.5 + 0.5 × 0.75
        (0.75, 0.875),
        # rank 2.5 → first bucket starts at 0: 0.1 × 2.5/10
        (0.05, 0.025),
        # rank 49.5 → +Inf bucket: the highest finite bound
        (0.99, 1.0),
        # rank exactly on a boundary: the bound itself
        (0.2, 0.1),
        (0.0, 0.0),
        (1.0, 1.0),
    ],
)
def test_bucket_quantile_matches_promql(q: float, expected: float) -> None:
    assert bucket_quantile(q, BUCKETS) == pytest.approx(expected)


def test_bucket_quantile_none_and_edge_cases() -> None:
    assert bucket_quantile(0.5, [(0.1, 1.0), (1.0, 2.0)]) is None, "no +Inf bucket"
    assert bucket_quantile(0.5, [(0.1, 0.0), (INF, 0.0)]) is None, "no observation"
    assert bucket_quantile(0.5, [(INF, 5.0)]) is None, "PromQL needs two buckets"
    assert bucket_quantile(0.0, [(0.1, 0.0), (INF, 5.0)]) is None, "0/0 in the lowest bucket"
    assert bucket_quantile(0.5, [(-1.0, 3.0), (0.0, 4.0), (INF, 4.0)]) == -1.0
    # Non-monotonic (deltas across a reset): flattened upward, like PromQL.
    assert bucket_quantile(0.5, [(0.1, 10.0), (0.5, 8.0), (1.0, 20.0), (INF, 20.0)]) == (
        pytest.approx(0.1)
    )
    # Same bound twice (two series of one histogram): summed to 2 ≤ 1 s of 4, rank 1.
    assert bucket_quantile(0.25, [(1.0, 1.0), (1.0, 1.0), (INF, 2.0), (INF, 2.0)]) == 0.5
    with pytest.raises(ValueError):
        bucket_quantile(1.5, BUCKETS)


def _hist(name: str, client: str, counts: list[float]) -> dict[SeriesKey, float]:
    bounds = ["0.1", "0.5", "1.0", "+Inf"]
    return {
        key(f"{name}_bucket", client=client, le=le): c for le, c in zip(bounds, counts, strict=True)
    }


def test_histogram_quantile_over_window_uses_bucket_increases(indexed: bool) -> None:
    h = "fallacies_workload_journey_duration_seconds"
    before = {
        **_hist(h, "naive", [100, 100, 100, 100]),
        **_hist(h, "resilient", [0, 0, 0, 0]),
    }
    # During the window naive observed BUCKETS' distribution; resilient 50 fast ones.
    after = {
        **_hist(h, "naive", [110, 130, 140, 150]),
        **_hist(h, "resilient", [50, 50, 50, 50]),
    }
    w = [snap(0, before, indexed=indexed), snap(1, after, indexed=indexed)]
    assert histogram_quantile(0.5, w, sel(h).where(client="naive")) == pytest.approx(0.4)
    assert histogram_quantile(0.5, w, sel(h).where(client="resilient")) == pytest.approx(0.05)
    # Both clients: 60 in the first bucket of 100 → rank 50 in it: 0.1 × 50/60.
    assert histogram_quantile(0.5, w, sel(h)) == pytest.approx(0.1 * 50 / 60)
    assert histogram_quantile(0.5, w[:1], sel(h)) is None
    quiet = [snap(0, before, indexed=indexed), snap(1, before, indexed=indexed)]
    assert histogram_quantile(0.5, quiet, sel(h)) is None, "nothing observed in the window"


def test_histogram_quantile_survives_a_reset(indexed: bool) -> None:
    h = "fallacies_workload_journey_duration_seconds"
    w = [
        snap(0, _hist(h, "naive", [500, 500, 500, 500]), indexed=indexed),
        snap(1, _hist(h, "naive", [10, 30, 40, 50]), indexed=indexed),  # restarted
    ]
    assert histogram_quantile(0.75, w, sel(h)) == pytest.approx(0.875)


# -- gauges ---------------------------------------------------------------------------

G = "fallacies_workload_clock_offset_seconds"


def test_gauges_over_time(indexed: bool) -> None:
    w = [snap(t, {key(G, client="naive"): v}, indexed=indexed) for t, v in enumerate([1, -4, 2])]
    s = sel(G)
    assert gauge_max(w, s) == 2
    assert gauge_max(w, s, combine="absmax") == 4
    assert gauge_mean(w, s) == pytest.approx(-1 / 3)
    assert gauge_last(w, s) == 2
    assert gauge_points(w, s) == [(0, 1), (1, -4), (2, 2)]


def test_gauges_combine_series_per_snapshot(indexed: bool) -> None:
    d = "fallacies_api_replica_divergent_keys"
    w = [
        snap(0, {key(d, node="api-1"): 3, key(d, node="api-2"): 5}, indexed=indexed),
        snap(1, {key(d, node="api-1"): 0, key(d, node="api-2"): 1}, indexed=indexed),
        snap(2, {key(d, node="api-2"): math.nan}, indexed=indexed),
    ]
    assert gauge_points(w, sel(d), combine="max") == [(0, 5), (1, 1)]
    assert gauge_points(w, sel(d)) == [(0, 8), (1, 1)]
    assert gauge_points(w, sel(d), combine="min") == [(0, 3), (1, 0)]
    assert gauge_max(w, sel(d), combine="max") == 5


def test_gauges_none_without_series(indexed: bool) -> None:
    w = [snap(0, {ok(): 1}, indexed=indexed)]
    assert gauge_max(w, sel(G)) is None
    assert gauge_mean(w, sel(G)) is None
    assert gauge_last(w, sel(G)) is None
    assert gauge_max([], sel(G)) is None


def test_between_keeps_the_delta_base() -> None:
    w = [snap(t, {}) for t in (0.0, 1.0, 2.0, 3.0, 4.0)]
    assert [s.t for s in between(w, 1.5, 3.0)] == [1.0, 2.0, 3.0]
    assert [s.t for s in between(w, 0.0, 1.0)] == [0.0, 1.0]
