"""The metrics table in docs/api.md and the series the code registers stay the same list."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from services.api.metrics import ApiMetrics

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ROW = re.compile(r"^\| `(fallacies_api_[a-z_]+)` \| (counter|gauge|histogram) \|([^|]*)\|")


def documented() -> dict[str, tuple[str, set[str]]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            labels = set(re.findall(r"`([a-z_]+)`", match.group(3)))
            rows[match.group(1)] = (match.group(2), labels)
    return rows


def registered() -> dict[str, tuple[str, set[str]]]:
    metrics = ApiMetrics(CollectorRegistry())
    found = {}
    for collector in vars(metrics).values():
        name = collector._name
        kind = collector._type
        if kind == "counter":
            name += "_total"
        found[name] = (kind, set(collector._labelnames))
    return found


def test_every_series_is_documented_with_its_type_and_labels():
    assert documented() == registered()


def test_names_follow_prometheus_conventions():
    for name, (kind, _) in registered().items():
        assert name.startswith("fallacies_api_")
        assert (kind == "counter") == name.endswith("_total"), name
