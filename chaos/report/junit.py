"""A run as JUnit XML, the format every CI server reads: one test case per check.

Why per check and not per experiment: the CI page then names the check that failed
("resilient during: retries and failover keep the resilient client whole") instead of
"network-is-reliable failed", and its message says what was seen against what was
wanted. A fault that could not be applied or reverted, or a run that ended in an
error, is a test case of its own with an ``<error>``: no check of that run can be
trusted, and none may pass for it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from chaos.journal import Check, Journal
from chaos.report import _text

__all__ = ["render_junit", "write_junit"]


def _case_name(check: Check) -> str:
    who = f"{check.client} " if check.client else ""
    return f"{who}{check.phase}: {check.description or check.metric}"


def _message(check: Check) -> str:
    detail = f"; {check.detail}" if check.detail else ""
    return f"{check.metric} {_text.observed(check)}, wanted {_text.rule(check)}{detail}"


def _suite(journal: Journal) -> ET.Element:
    suite = ET.Element("testsuite", name=journal.name)
    classname = f"fallacies.{journal.name}"
    checks = [*journal.steady_state, *journal.expectations]
    failures = errors = 0
    for check in checks:
        case = ET.SubElement(suite, "testcase", classname=classname, name=_case_name(check))
        case.set("time", "0")
        if not check.passed:
            failures += 1
            ET.SubElement(case, "failure", message=_message(check), type="expectation")
    problems = [f"{f.kind} on {f.target}: {f.error}" for f in journal.faults if f.error]
    if journal.error:
        problems.append(journal.error)
    if problems or journal.status in ("error", "aborted") or not checks:
        case = ET.SubElement(suite, "testcase", classname=classname, name="the run itself")
        errors += 1
        reason = "; ".join(problems) or f"the run ended {journal.status} with no check judged"
        ET.SubElement(case, "error", message=reason, type=journal.status)
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("time", f"{journal.duration_s:.3f}")
    suite.set("timestamp", journal.started_at)
    return suite


def render_junit(journals: list[Journal]) -> str:
    """Every journal as one ``<testsuite>`` under one ``<testsuites name="fallacies">``."""
    root = ET.Element("testsuites", name="fallacies")
    for journal in journals:
        root.append(_suite(journal))
    for key in ("tests", "failures", "errors"):
        root.set(key, str(sum(int(suite.get(key, "0")) for suite in root)))
    root.set("time", f"{sum(j.duration_s for j in journals):.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(journals: list[Journal], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_junit(journals), encoding="utf-8")
    return path
