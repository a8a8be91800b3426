"""The recording and alert rules: promtool's checks and unit tests, and their shape."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_tool
from tests.dashboards.promql import RULES_DIR, rule_files, rules, signal_parts

# level:metric:operations, the metric without `_total` (prometheus.io/docs/practices/rules)
RECORD_NAME = re.compile(r"^[a-z_]+:[a-z][a-z0-9_]*:[a-z0-9_]+$")
FALLACY_WORDS = {
    "1": "the network is reliable",
    "2": "latency is zero",
    "3": "bandwidth is infinite",
    "4": "the network is secure",
    "5": "topology doesn't change",
    "6": "there is one administrator",
    "7": "transport cost is zero",
    "8": "the network is homogeneous",
}


def _promtool(*args: str, cwd: Path = RULES_DIR) -> subprocess.CompletedProcess[str]:
    promtool = require_tool("promtool")
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.tool("promtool")
def test_promtool_check_rules() -> None:
    files = [p.name for p in rule_files()]
    assert files == ["fallacies.alerts.yaml", "fallacies.rules.yaml", "fallacies.signals.yaml"]
    done = _promtool("check", "rules", *files)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.tool("promtool")
def test_promtool_test_rules() -> None:
    tests = sorted(str(p.relative_to(RULES_DIR)) for p in (RULES_DIR / "tests").glob("*.yaml"))
    assert len(tests) >= 3
    done = _promtool("test", "rules", *tests)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_is_unit_tested_firing() -> None:
    firing = set()
    for path in (RULES_DIR / "tests").glob("*.yaml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check["exp_alerts"]:
                    firing.add(check["alertname"])
    alerts = {rule["alert"] for _, _, rule in rules() if "alert" in rule}
    assert alerts - firing == set(), "alerts never shown firing in dashboards/rules/tests"


def test_recording_rules_follow_the_naming_convention() -> None:
    names = [rule["record"] for _, _, rule in rules() if "record" in rule]
    assert len(names) == len(set(names)), "a series recorded twice"
    for name in names:
        assert RECORD_NAME.match(name), name
        level, metric, operations = name.split(":")
        assert not metric.endswith("_total"), f"{name}: drop _total from a rate"
        if re.search(r"rate|increase|max|avg", operations):
            assert operations.endswith("30s"), f"{name}: windows are 30 s"


def test_the_signals_asked_for_are_recorded() -> None:
    names = {rule["record"] for _, _, rule in rules() if "record" in rule}
    for wanted in (
        "client:journey_success_ratio:ratio_rate30s",
        "client:journey_p99_seconds:quantile_rate30s",
        "client:bytes_per_journey:ratio_rate30s",
        "client:requests_per_journey:ratio_rate30s",
        "client:transport_cost_per_journey:ratio_rate30s",
        "client:forged_accepted:increase30s",
        "client:stale_endpoint_errors:increase30s",
        "client:clock_offset_abs_seconds:max30s",
        "client:dns_failures:increase30s",
        "mesh:replica_divergence:max30s",
    ):
        assert wanted in names


def test_per_client_rules_keep_the_client_label() -> None:
    for _, _, rule in rules():
        if "record" in rule and rule["record"].startswith("client"):
            expr = " ".join(rule["expr"].split())
            for grouping in re.findall(r"\bby \(([^)]*)\)", expr):
                assert "client" in grouping, f"{rule['record']}: by ({grouping}) drops client"


def test_one_alert_per_fallacy_with_for_severity_and_words() -> None:
    alerts = [rule for _, _, rule in rules() if "alert" in rule]
    names = [a["alert"] for a in alerts]
    assert len(names) == len(set(names))
    fallacies = {a["labels"].get("fallacy") for a in alerts} - {None}
    assert fallacies == set(FALLACY_WORDS), "every fallacy 1-8 has an alert"
    for alert in alerts:
        assert re.fullmatch(r"\d+[smh]", alert["for"]), alert["alert"]
        assert alert["labels"]["severity"] in ("info", "warning", "critical")
        assert alert["annotations"]["summary"]
        description = alert["annotations"]["description"]
        fallacy = alert["labels"].get("fallacy")
        if fallacy is not None:
            assert f"Fallacy {fallacy}, " in description, alert["alert"]
            assert FALLACY_WORDS[fallacy] in description.lower(), alert["alert"]
            assert alert["annotations"]["grafana"] == f"/d/fallacies-{fallacy}"
            assert alert["annotations"]["explain"] == f"fallacies explain {fallacy}"


def test_alerts_are_a_signal_against_a_threshold() -> None:
    """The shape the live test relies on to query each alert's signal without its threshold."""
    for _, _, rule in rules():
        if "alert" in rule:
            assert signal_parts(rule["expr"]), rule["alert"]


def test_rule_files_are_yaml_with_groups_evaluated_every_second() -> None:
    for path, group, _ in rules():
        assert group["interval"] == "1s", f"{path.name}: {group['name']}"
