"""``bucket_quantile`` agrees with the real Prometheus engine (``promtool test rules``)."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest
import yaml

from chaos.signals.window import bucket_quantile
from tests.conftest import require_tool

CASES: dict[str, list[tuple[float, float]]] = {
    "spread": [(0.1, 10.0), (0.5, 30.0), (1.0, 40.0), (math.inf, 50.0)],
    "tail_in_inf": [(0.005, 0.0), (0.25, 3.0), (2.5, 7.0), (math.inf, 19.0)],
    "negative_first": [(-1.0, 3.0), (0.0, 4.0), (1.0, 9.0), (math.inf, 9.0)],
    "one_bucket": [(0.25, 7.0), (math.inf, 7.0)],
    "non_monotonic": [(0.1, 10.0), (0.5, 8.0), (1.0, 20.0), (math.inf, 21.0)],
    "nothing_observed": [(0.1, 0.0), (1.0, 0.0), (math.inf, 0.0)],
}
QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


@pytest.mark.tool("promtool")
def test_bucket_quantile_matches_promtool(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    series = []
    expr_tests = []
    for name, buckets in CASES.items():
        for bound, count in buckets:
            series.append(
                {"series": f'h_bucket{{case="{name}",le="{_le(bound)}"}}', "values": f"{count:g}"}
            )
        for q in QUANTILES:
            ours = bucket_quantile(q, buckets)
            promql = f'histogram_quantile({q}, h_bucket{{case="{name}"}})'
            if ours is None:  # PromQL's NaN, which never equals itself: count the NaNs
                test = {"expr": f"count({promql} != {promql})", "labels": "{}", "value": 1}
            else:
                test = {"expr": promql, "labels": f'{{case="{name}"}}', "value": ours}
            expr_tests.append(
                {
                    "expr": test["expr"],
                    "eval_time": "0m",
                    "exp_samples": [{"labels": test["labels"], "value": test["value"]}],
                }
            )
    (tmp_path / "rules.yaml").write_text("groups: []\n")
    test_file = tmp_path / "quantile_test.yaml"
    test_file.write_text(
        yaml.safe_dump(
            {
                "rule_files": ["rules.yaml"],
                "evaluation_interval": "1m",
                "tests": [
                    {"interval": "1m", "input_series": series, "promql_expr_test": expr_tests}
                ],
            }
        )
    )
    done = subprocess.run(
        [promtool, "test", "rules", test_file.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
