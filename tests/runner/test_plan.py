"""The dry-run plan uses the runner's own numbers: offsets, durations, TTLs, windows."""

from __future__ import annotations

import pytest

from chaos.experiments import EXPERIMENTS_DIR
from chaos.loader import load_experiment
from chaos.runner.method import TTL_MARGIN_S
from chaos.runner.plan import plan

RELIABLE = EXPERIMENTS_DIR / "01-network-is-reliable.yaml"


@pytest.mark.parametrize(("quick", "fault_s"), [(False, 20.0), (True, 10.0)])
def test_the_plan_of_experiment_1(quick: bool, fault_s: float) -> None:
    experiment = load_experiment(RELIABLE)
    planned = plan(experiment, quick=quick)
    assert [(f.kind, f.target) for f in planned.faults] == [
        ("loss", "dns"), ("timeout", "api-1"), ("limit_data", "api-2"),
        ("http_status", "api-2"), ("link_down", "repl-1-2"), ("link_down", "repl-2-1"),
    ]  # fmt: skip
    (storm,) = [f for f in planned.faults if f.kind == "http_status"]
    # 3 s in, shorter than its Retry-After: one wait outlasts it.
    assert storm.start_s == experiment.warmup_s + 3 and storm.duration_s == pytest.approx(2.8)
    assert storm.duration_s < storm.attributes["retry_after"]
    for fault in planned.faults:
        if fault.kind == "http_status":
            continue
        assert fault.start_s == experiment.warmup_s
        assert fault.duration_s == fault_s and fault.ttl_s == fault_s + TTL_MARGIN_S
    assert planned.faults[0].attributes == {"probability": 0.7}
    assert planned.faults[1].units == {"timeout": "ms"}
    end = experiment.warmup_s + fault_s
    assert planned.total_s == end + experiment.observe_after_s
    windows = {check.phase: check.window for check in planned.checks}
    assert windows == {
        "before": f"0.5–{experiment.warmup_s:g} s",
        "during": f"{experiment.warmup_s + experiment.settle_s:g}–{end:g} s",
        "after": f"{end + experiment.recover_s:g}–{planned.total_s:g} s",
    }
    kinds = [check.kind for check in planned.checks]
    assert kinds.count("expectation") == len(experiment.expectations)
    assert kinds.count("steady state") == 2 * len(experiment.steady_state)
    assert {check.unit for check in planned.checks if check.signal == "journey_success_ratio"} == {
        "ratio"
    }
    assert planned.rollbacks == ("reset_links",)
