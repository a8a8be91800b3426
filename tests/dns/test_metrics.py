from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from services.dns import Outcome, Transport, Zone
from services.dns.handler import QTYPE_LABELS
from services.dns.metrics import CATALOGUE, DNSMetrics

METRICS_MD = Path(__file__).parents[2] / "services" / "dns" / "METRICS.md"


def scraped_names(registry: CollectorRegistry) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            base = re.sub(r"_(bucket|sum|count)$", "", sample.name)
            labels = set(sample.labels) - {"le"}
            out.setdefault(base if base in CATALOGUE else sample.name, set()).update(labels)
    return out


def test_catalogue_matches_the_registry(registry: CollectorRegistry, zone: Zone) -> None:
    metrics = DNSMetrics(registry, zone)
    metrics.recorder(Transport.UDP).observe(Outcome("A", "NOERROR"), 0.001)
    scraped = scraped_names(registry)
    assert set(scraped) == set(CATALOGUE)
    for name, labels in CATALOGUE.items():
        assert scraped[name] == set(labels), name
        assert name.startswith("fallacies_dns_")


def test_catalogue_matches_metrics_md() -> None:
    documented = set(re.findall(r"^\| `(fallacies_dns_\w+)`", METRICS_MD.read_text(), re.MULTILINE))
    assert documented == set(CATALOGUE)


def test_recorder_counts_each_outcome(registry: CollectorRegistry, zone: Zone) -> None:
    recorder = DNSMetrics(registry, zone).recorder(Transport.TCP)
    recorder.observe(Outcome("TXT", "NOERROR", truncated=True), 0.0001)
    recorder.observe(Outcome("TXT", "NOERROR", truncated=True), 0.0001)
    recorder.observe(Outcome(malformed="too_short"), 0.0)
    recorder.observe(Outcome("OTHER", "FORMERR", malformed="bad_wire"), 0.0)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"transport": "tcp", **labels})

    assert value("fallacies_dns_queries_total", qtype="TXT", rcode="NOERROR") == 2
    assert value("fallacies_dns_truncated_responses_total") == 2
    assert value("fallacies_dns_malformed_packets_total", reason="too_short") == 1
    assert value("fallacies_dns_malformed_packets_total", reason="bad_wire") == 1
    assert value("fallacies_dns_queries_total", qtype="OTHER", rcode="FORMERR") == 1
    assert value("fallacies_dns_query_duration_seconds_count") == 3  # drops have no answer to time


def test_serial_gauge_follows_the_zone(registry: CollectorRegistry, zone: Zone) -> None:
    DNSMetrics(registry, zone)
    assert registry.get_sample_value("fallacies_dns_zone_serial") == 1
    zone.add("web", "A", ["10.0.0.1"])
    assert registry.get_sample_value("fallacies_dns_zone_serial") == 2


def test_qtype_labels_are_bounded() -> None:
    assert len(QTYPE_LABELS) == 8 and "OTHER" in QTYPE_LABELS
