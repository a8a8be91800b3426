"""METRICS.md is the catalogue: every series the server exports is in it, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.registry import CollectorRegistry

from services.ntp import NTPServer

CATALOGUE = Path(__file__).resolve().parents[2] / "services" / "ntp" / "METRICS.md"


def documented() -> set[str]:
    return set(re.findall(r"^\| `(fallacies_ntp_\w+)`", CATALOGUE.read_text(), re.MULTILINE))


def exported(registry: CollectorRegistry) -> set[str]:
    names = set()
    for family in registry.collect():
        suffix = "_total" if family.type == "counter" else ""
        names.add(family.name + suffix)
    return names


def test_every_series_is_documented() -> None:
    registry = CollectorRegistry()
    NTPServer(registry=registry)
    assert exported(registry) == documented()


def test_names_follow_prometheus_conventions() -> None:
    registry = CollectorRegistry()
    NTPServer(registry=registry)
    for family in registry.collect():
        assert family.name.startswith("fallacies_ntp_")
        assert family.documentation
        for sample in family.samples:
            assert set(sample.labels) <= {"code", "reason"}
