"""A run as JUnit XML: one case per check, the failed one named with what was seen."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

from chaos.journal import Check
from chaos.report.junit import render_junit, write_junit
from tests.report.factory import journal


def test_each_check_is_a_case_and_the_totals_add_up(tmp_path: Path) -> None:
    good = journal(0)
    bad = journal(1, status="failed")
    bad.expectations[1] = dataclasses.replace(
        bad.expectations[1], observed=0.42, passed=False, unit="ratio", detail="first met never"
    )
    root = ET.parse(write_junit([good, bad], tmp_path / "out" / "junit.xml")).getroot()
    checks = len(good.steady_state) + len(good.expectations)
    assert root.tag == "testsuites" and root.get("name") == "fallacies"
    assert root.get("tests") == str(2 * checks) and root.get("failures") == "1"
    assert root.get("errors") == "0"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [good.name, bad.name]
    failed = [case for case in suites[1] if case.find("failure") is not None]
    assert [case.get("name") for case in failed] == [
        f"resilient during: {bad.expectations[1].description}"
    ]
    failure = failed[0].find("failure")
    assert failure is not None
    assert failure.get("message") == "error_ratio 42 %, wanted < 5 %; first met never"
    assert suites[1].get("classname") is None and failed[0].get("classname") == (
        f"fallacies.{bad.name}"
    )


def test_a_run_that_could_not_judge_is_an_error_not_a_pass() -> None:
    broken = journal(2, status="error")
    broken.faults[0].error = "revert failed: the proxy did not answer"
    broken.error = "steady state did not hold before the fault; nothing injected"
    silent = journal(3, status="aborted")
    silent.steady_state, silent.expectations = [], []
    root = ET.fromstring(render_junit([broken, silent]))
    assert root.get("errors") == "2"
    for suite in root.findall("testsuite"):
        (errored,) = [case for case in suite if case.find("error") is not None]
        assert errored.get("name") == "the run itself"
    messages = [e.get("message") for e in root.iter("error")]
    assert messages == [
        "bandwidth on api-2: revert failed: the proxy did not answer; "
        "steady state did not hold before the fault; nothing injected",
        "the run ended aborted with no check judged",
    ]


def test_a_check_with_no_value_says_so() -> None:
    stuck = journal(4, status="failed")
    stuck.expectations = [
        Check("keeps going", "after", "resilient", "journey_success_ratio", ">=", 0.9, None, False)
    ]
    failure = ET.fromstring(render_junit([stuck])).find(".//failure")
    assert failure is not None
    assert failure.get("message") == "journey_success_ratio no data, wanted >= 0.9"
