"""METRICS.md is the catalogue: every series the workload exports is in it, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from services.workload.metrics import WorkloadMetrics
from services.workload.service import WorkloadService

CATALOGUE = Path(__file__).resolve().parents[2] / "services" / "workload" / "METRICS.md"
BOUNDED_LABELS = {
    "client",
    "outcome",
    "replica",
    "step",
    "transport",
    "reason",
    "server",
    "action",
    "hop",
}


def documented() -> set[str]:
    return set(re.findall(r"^\| `(fallacies_workload_\w+)`", CATALOGUE.read_text(), re.MULTILINE))


def exported(registry: CollectorRegistry) -> set[str]:
    return {
        family.name + ("_total" if family.type == "counter" else "")
        for family in registry.collect()
    }


def test_every_series_is_documented() -> None:
    registry = CollectorRegistry()
    WorkloadService(registry=registry)
    assert exported(registry) == documented()


def test_names_and_labels_follow_the_conventions() -> None:
    registry = CollectorRegistry()
    WorkloadMetrics(registry)
    for family in registry.collect():
        assert family.name.startswith("fallacies_workload_")
        assert family.documentation
        for sample in family.samples:
            assert "client" in sample.labels
            assert set(sample.labels) - {"le"} <= BOUNDED_LABELS


def test_replica_labels_cannot_be_minted_by_dns() -> None:
    metrics = WorkloadMetrics(CollectorRegistry(), replicas=("api-1", "api-2"))
    assert metrics.replica_label("api-1") == "api-1"
    assert metrics.replica_label("evil-7f3a") == "other"
    assert metrics.reject_label("SomethingNew") == "other"
