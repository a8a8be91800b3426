"""Every series a signal reads is in a metrics catalogue, with its labels and values.

The catalogues are the tables beside the code (``METRICS.md``, ``docs/api.md``),
which the services' own tests keep equal to their registries; the workload and API
registries are checked here too. A signal reading a name, label or label value that
no service exposes would silently read 0 or None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from chaos.signals import SIGNALS
from chaos.signals.library import REPLICAS, LibrarySignal
from chaos.signals.window import Selector, sel
from services.api.metrics import ApiMetrics
from services.workload.metrics import OTHER, OUTCOMES, WorkloadMetrics

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = (
    ROOT / "services" / "workload" / "METRICS.md",
    ROOT / "docs" / "api.md",
    ROOT / "chaos" / "proxy" / "METRICS.md",
    ROOT / "services" / "ntp" / "METRICS.md",
    ROOT / "services" / "dns" / "METRICS.md",
)
_ROW = re.compile(r"^\| `(\w+)` \|\s*(\w+)\s*\|([^|]*)\|", re.MULTILINE)
HISTOGRAM_PARTS = ("_bucket", "_sum", "_count")

# Label values the tables describe in prose rather than list.
PROSE_VALUES = {
    ("fallacies_workload_journeys_total", "outcome"): set(OUTCOMES),
    ("fallacies_workload_requests_total", "replica"): {*REPLICAS, OTHER},
    ("fallacies_workload_replica_latency_seconds", "replica"): {*REPLICAS, OTHER},
}


@dataclass
class Series:
    type: str
    labels: set[str]
    values: dict[str, set[str]]


def catalogue() -> dict[str, Series]:
    found: dict[str, Series] = {}
    for path in CATALOGUES:
        for name, kind, label_text in _ROW.findall(path.read_text()):
            names, _, listed = label_text.strip().partition(" = ")
            labels = [part.strip(" `") for part in names.split(",") if part.strip(" `")]
            values = {labels[-1]: set(re.findall(r"`([^`]+)`", listed))} if listed else {}
            for (series, label), prose in PROSE_VALUES.items():
                if series == name:
                    values[label] = prose
            found[name] = Series(kind, set(labels), values)
    return found


def exposed_names() -> set[str]:
    """Sample names the workload and API registries can expose."""
    names: set[str] = set()
    registry = CollectorRegistry()
    WorkloadMetrics(registry)
    ApiMetrics(registry)
    for family in registry.collect():
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + part for part in HISTOGRAM_PARTS)
        else:
            names.add(family.name)
    return names


def documented(name: str, known: dict[str, Series]) -> Series:
    if name in known:
        return known[name]
    for part in HISTOGRAM_PARTS:
        base = name.removesuffix(part)
        if base != name and known.get(base, Series("", set(), {})).type == "histogram":
            return known[base]
    raise AssertionError(f"{name} is in no metrics catalogue")


def test_the_catalogue_parser_reads_the_tables() -> None:
    known = catalogue()
    assert known["fallacies_workload_step_duration_seconds"].values["step"] == {
        "resolve",
        "write",
        "catalog",
        "items",
    }
    assert known["fallacies_api_replica_divergent_keys"].labels == set()
    assert known["fallacies_proxy_bytes_total"].labels == {"link", "direction"}
    assert "RequestTimeTooSkewed" in known["fallacies_workload_rejects_total"].values["reason"]


def problems(signal: LibrarySignal, selector: Selector) -> list[str]:
    """What is wrong with ``selector`` as read by ``signal``; empty when nothing is."""
    try:
        series = documented(selector.name, catalogue())
    except AssertionError as exc:
        return [str(exc)]
    found = []
    if (
        selector.name.startswith(("fallacies_workload_", "fallacies_api_"))
        and selector.name not in exposed_names()
    ):
        found.append(f"{selector.name} is not exposed by the registry")
    if ("client" in series.labels) != signal.per_client:
        found.append(f"per_client={signal.per_client} but the labels are {sorted(series.labels)}")
    for matcher in selector.matchers:
        allowed = series.values.get(matcher.label)
        if matcher.label not in series.labels:
            found.append(f"{selector.name} has no label {matcher.label}")
        elif allowed is None:
            continue
        elif matcher.op in ("=", "!="):
            if matcher.value not in allowed:
                found.append(f"{matcher} is not one of {sorted(allowed)}")
        elif re.fullmatch(r"[\w|]+", matcher.value):
            found.extend(
                f"{matcher}: {part!r} is not one of {sorted(allowed)}"
                for part in matcher.value.split("|")
                if part not in allowed
            )
        elif not any(matcher.matches(value) for value in allowed):
            found.append(f"{matcher} matches none of {sorted(allowed)}")
    return found


def _cases() -> list[object]:
    cases: list[object] = []
    for name, signal in SIGNALS.items():
        assert isinstance(signal, LibrarySignal), f"{name}: not a library signal, check by hand"
        cases.extend(
            pytest.param(signal, selector, id=f"{name}:{selector}") for selector in signal.selectors
        )
    return cases


@pytest.mark.parametrize(("signal", "selector"), _cases())
def test_signal_reads_catalogued_series(signal: LibrarySignal, selector: Selector) -> None:
    assert problems(signal, selector) == []


def test_typos_are_caught() -> None:
    good = SIGNALS["rejected_key"]
    assert isinstance(good, LibrarySignal)
    for text in (
        "workload_journey_total",
        'fallacies_workload_rejects_total{reason=~"InvalidKeyID|SignatureDoesNotMatch"}',
        'fallacies_workload_rejects_total{reson="InvalidKeyId"}',
        'fallacies_workload_step_duration_seconds_bucket{step="catalogue"}',
        "fallacies_api_replica_divergent_keys",  # no client label, but the signal is per client
    ):
        assert problems(good, sel(text)), text
