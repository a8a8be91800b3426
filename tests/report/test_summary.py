from __future__ import annotations

import json

from chaos.journal import Check, Journal
from chaos.report import ReportPaths, Summary, Verdict


def test_json_summary_round_trips(report: ReportPaths) -> None:
    data = json.loads(report.json.read_text())
    summary = Summary.from_dict(data)
    assert summary.to_dict() == data
    assert Summary.from_dict(summary.to_dict()) == summary


def test_json_summary_content(run: list[Journal], report: ReportPaths) -> None:
    summary = Summary.from_dict(json.loads(report.json.read_text()))
    assert summary.counts == {"passed": 6, "failed": 1, "aborted": 1, "error": 0, "total": 8}
    assert not summary.ok
    assert [e.name for e in summary.experiments] == [j.name for j in run]
    assert [e.status for e in summary.experiments] == [j.status for j in run]
    for name in summary.files.values():
        assert (report.out_dir / name).is_file()
    for exp in summary.experiments:
        assert exp.charts[0].key and exp.charts[0].signal == exp.key_signal
        assert all((report.out_dir / c.file).is_file() for c in exp.charts)
    failed = next(e for e in summary.experiments if e.status == "failed")
    assert failed.verdicts["resilient"] == Verdict(met=0, total=1, status="fail")
    aborted = next(e for e in summary.experiments if e.status == "aborted")
    assert aborted.error and aborted.expectations == []
    assert aborted.verdicts["naive"].status == "none"


def test_verdict_counts_only_the_clients_own_expectations() -> None:
    checks = [
        Check("a", "during", "naive", "m", ">", 1.0, 2.0, True),
        Check("b", "during", "naive", "m", ">", 1.0, 0.0, False),
        Check("c", "after", None, "m", ">", 1.0, 2.0, True),
    ]
    assert Verdict.of(checks, "naive") == Verdict(met=1, total=2, status="fail")
    assert Verdict.of(checks, "resilient") == Verdict(met=0, total=0, status="none")
