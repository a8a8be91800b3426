"""Sliding-window series: what the charts and the live progress line show."""

from __future__ import annotations

import pytest

from chaos.signals import SIGNALS, series
from tests.signals.helpers import key, snap

OK = key("fallacies_workload_journeys_total", client="naive", outcome="ok")
INFLIGHT = key("fallacies_workload_journeys_in_flight", client="naive")


def test_counter_series_uses_the_last_window_s() -> None:
    # One ok journey per second, then none from t=5 on (a stall).
    counts = [0, 1, 2, 3, 4, 5, 5, 5, 5, 5]
    snaps = [snap(float(t), {OK: c, INFLIGHT: 1}) for t, c in enumerate(counts)]
    points = series(snaps, SIGNALS["journeys_ok_per_s"], "naive", window_s=3.0)
    assert [t for t, _ in points] == [float(t) for t in range(10)]
    assert [v for _, v in points] == pytest.approx(
        # t=0 has no delta; t=1,2 use what exists; from t=3 the base is t-3
        [None, 1.0, 1.0, 1.0, 1.0, 1.0, 2 / 3, 1 / 3, 0.0, 0.0]
    )


def test_window_base_is_the_latest_snapshot_at_or_before_t_minus_window() -> None:
    # Jittered sampling: the base for t=4.02 is t=1.0 (4.02 - 3 = 1.02 ≥ 1.0 > 0.0).
    snaps = [snap(t, {OK: t * 10}) for t in (0.0, 1.0, 2.05, 3.01, 4.02)]
    points = series(snaps, SIGNALS["journeys_ok_per_s"], "naive", window_s=3.0)
    assert points[-1][1] == pytest.approx(10.0)
    base_values = [v for _, v in series(snaps, SIGNALS["error_journeys"], "naive", 3.0)]
    assert base_values == [None, 0, 0, 0, 0]


def test_gauge_series_and_edge_cases() -> None:
    snaps = [snap(float(t), {INFLIGHT: v}) for t, v in enumerate([0, 1, 0, 0, 0])]
    points = series(snaps, SIGNALS["journeys_in_flight"], "naive", window_s=1.0)
    assert [v for _, v in points] == [0, 1, 1, 0, 0]
    assert series([], SIGNALS["journeys_in_flight"], "naive") == []
    zero = series(snaps, SIGNALS["journeys_in_flight"], "naive", window_s=0.0)
    assert [v for _, v in zero] == [0, 1, 0, 0, 0]
    with pytest.raises(ValueError):
        series(snaps, SIGNALS["journeys_in_flight"], "naive", window_s=-1.0)
