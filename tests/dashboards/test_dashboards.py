"""The Grafana dashboards: generated, consistent, and wired to the provisioned datasource."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from chaos.loader import load_all
from chaos.signals.library import LIBRARY
from tests.dashboards.promql import (
    GRAFANA_DIR,
    PROVISIONING_DIR,
    REPO,
    dashboard_expressions,
    dashboard_files,
    load_dashboard,
    panels,
    rule_expressions,
    rules,
    selectors,
)

CATALOGUES = (
    "services/workload/METRICS.md",
    "docs/api.md",
    "chaos/proxy/METRICS.md",
    "services/ntp/METRICS.md",
    "services/dns/METRICS.md",
)
PROMETHEUS_SERIES = {"up", "ALERTS"}
"""Series Prometheus itself makes."""


@pytest.fixture(scope="module")
def generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "dashboards_generate", REPO / "dashboards" / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: load_dashboard(path) for path in dashboard_files()}


def _datasource_refs(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            else:
                yield from _datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _datasource_refs(item)


def test_committed_json_is_what_the_script_makes(generate: ModuleType) -> None:
    stale = generate.stale_files(GRAFANA_DIR)
    assert not stale, f"run `python dashboards/generate.py`: {stale} differ"


def test_the_script_check_mode(generate: ModuleType, tmp_path: Path) -> None:
    rules_file = tmp_path / "signals.yaml"
    where = ["--out", str(tmp_path), "--rules", str(rules_file)]
    assert generate.main(where) == 0
    assert generate.main(["--check", *where]) == 0
    (tmp_path / "01-network-is-reliable.json").write_text("{}")
    (tmp_path / "99-left-over.json").write_text("{}")
    rules_file.write_text(rules_file.read_text().replace("30s", "31s"))
    assert generate.stale_files(tmp_path, rules_file) == [
        "01-network-is-reliable.json",
        "99-left-over.json",
        "signals.yaml",
    ]
    assert generate.main(["--check", *where]) == 1


def test_every_signal_is_recorded_as_its_library_entry_says(generate: ModuleType) -> None:
    """One definition: the committed rule of each signal is its ``promql()``, and its
    panel reads that recorded series in the signal's unit."""
    recorded = {rule["record"]: rule["expr"] for _, _, rule in rules() if "record" in rule}
    for signal in LIBRARY:
        assert recorded[signal.record] == signal.promql(), signal.name
        query = generate.QUERIES[signal.name]
        assert query.expr.split("{", 1)[0] == signal.record
        assert query.unit == generate.GRAFANA_UNITS[signal.unit]


def test_uids_are_stable_and_unique(dashboards: dict[str, dict[str, Any]]) -> None:
    uids = [d["uid"] for d in dashboards.values()]
    assert len(uids) == len(set(uids))
    assert sorted(uids) == sorted(["fallacies-overview", *(f"fallacies-{n}" for n in range(1, 9))])
    for dashboard in dashboards.values():
        assert dashboard["schemaVersion"] == 39
        assert dashboard["id"] is None
        assert "fallacies" in dashboard["tags"]


def test_every_datasource_ref_is_the_provisioned_one(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    provisioned = yaml.safe_load((PROVISIONING_DIR / "datasources" / "prometheus.yaml").read_text())
    (source,) = provisioned["datasources"]
    expected = {"type": source["type"], "uid": source["uid"]}
    assert expected == {"type": "prometheus", "uid": "prometheus"}
    for name, dashboard in dashboards.items():
        refs = list(_datasource_refs(dashboard))
        assert refs, name
        for ref in refs:
            assert ref == expected, f"{name}: datasource {ref!r}"


def test_every_panel_has_a_query(dashboards: dict[str, dict[str, Any]]) -> None:
    for name, dashboard in dashboards.items():
        ids = [panel["id"] for panel in panels(dashboard)]
        assert len(ids) == len(set(ids)), name
        for panel in panels(dashboard):
            assert panel["targets"], f"{name}: panel {panel['title']!r} has no query"
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs)), f"{name}: {panel['title']!r}"
            for target in panel["targets"]:
                assert target["expr"].strip(), f"{name}: {panel['title']!r} {target['refId']}"


def test_overview_has_a_tile_per_fallacy_naive_against_resilient(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    overview = dashboards["00-overview.json"]
    tiles = [p for p in overview["panels"] if p["type"] == "timeseries"]
    experiments = load_all()
    assert len(tiles) == 8
    for tile, experiment in zip(tiles, experiments, strict=True):
        assert tile["title"].startswith(f"{experiment.fallacy}. ")
        legends = [t["legendFormat"] for t in tile["targets"]]
        assert legends[:2] == ["naive", "resilient"]
        assert 'client="naive"' in tile["targets"][0]["expr"]
        assert 'client="resilient"' in tile["targets"][1]["expr"]
        assert tile["links"][0]["url"].startswith(f"/d/fallacies-{experiment.fallacy}?")
        (fault,) = [t for t in tile["targets"] if t["refId"] == "F"]
        assert fault["expr"]
    annotations = overview["annotations"]["list"]
    assert any("fallacies_proxy_fault_active" in a["expr"] for a in annotations)


def test_fallacy_dashboards_show_their_experiments_signals(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    by_uid = {d["uid"]: d for d in dashboards.values()}
    for experiment in load_all():
        dashboard = by_uid[f"fallacies-{experiment.fallacy}"]
        shown = list(panels(dashboard))
        assert 3 <= len(shown) <= 5, dashboard["uid"]
        assert len(shown) >= min(5, len(experiment.signals))
        # the key signal first and full width, with the fault overlay on every panel
        assert shown[0]["gridPos"]["w"] == 24
        for panel in shown:
            assert any(t["refId"] == "F" for t in panel["targets"]), panel["title"]
        assert "Watch:" in shown[0]["description"]


def test_queries_name_recorded_series_and_catalogued_metrics() -> None:
    """Statically: a recorded name must be recorded, a raw metric must be catalogued.

    (The live test then runs every query; this one fails fast and says which.)
    """
    recorded = {rule["record"] for _, _, rule in rules() if "record" in rule}
    catalogued = set(PROMETHEUS_SERIES)
    for path in CATALOGUES:
        catalogued |= set(re.findall(r"`([a-z_]+)`", (REPO / path).read_text()))
    for expression in [*dashboard_expressions(), *rule_expressions()]:
        for selector in selectors(expression.expr):
            name = selector.split("{", 1)[0]
            if ":" in name:
                assert name in recorded, f"{expression.where}: {name} is not recorded"
            else:
                base = re.sub(r"_(bucket|count|sum)$", "", name)
                assert name in catalogued or base in catalogued, (
                    f"{expression.where}: {name} is in no METRICS catalogue"
                )


def test_provisioning_points_at_the_mounted_dashboards() -> None:
    provider = yaml.safe_load((PROVISIONING_DIR / "dashboards" / "fallacies.yaml").read_text())
    (entry,) = provider["providers"]
    assert entry["type"] == "file"
    assert entry["options"]["path"] == "/var/lib/grafana/dashboards"
    datasource = yaml.safe_load((PROVISIONING_DIR / "datasources" / "prometheus.yaml").read_text())
    (source,) = datasource["datasources"]
    assert source["url"] == "http://prometheus:9090"
    assert source["isDefault"] is True
