"""``fallacies run FILE`` as CI runs it: ``--dry-run``, ``--junit``, ``--json``, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from chaos.experiments import EXPERIMENTS_DIR

CLI = [sys.executable, "-m", "chaos.cli"]
SHIPPED = EXPERIMENTS_DIR / "03-bandwidth-is-infinite.yaml"
IMPOSSIBLE = "an impossible bar, not one byte per journey"


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def broken_copy(tmp_path: Path) -> Path:
    """The shipped experiment as a user's own file, with one bar nobody can meet."""
    text = SHIPPED.read_text()
    text = text.replace("name: bandwidth-is-infinite", "name: my-broken-copy")
    old = "    threshold: 20000\n    description: a few kilobytes per journey (gzip, 304, pages)"
    assert old in text
    text = text.replace(old, f"    threshold: 1\n    description: {IMPOSSIBLE}")
    path = tmp_path / "my-exp.yaml"
    path.write_text(text)
    return path


def test_a_dry_run_prints_the_plan_and_starts_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = cli("run", str(broken_copy(tmp_path)), "--dry-run", "--json", "--quick",
               "--state-dir", str(state))  # fmt: skip
    assert done.returncode == 0, done.stderr
    (plan,) = json.loads(done.stdout)["plans"]
    assert plan["name"] == "my-broken-copy" and plan["quick"] is True
    fault = plan["faults"][0]
    assert fault["start_s"] == 4.0 and fault["ttl_s"] == fault["duration_s"] + 5.0
    assert {check["window"] for check in plan["checks"] if check["phase"] == "during"} == {
        f"5–{4 + fault['duration_s']:g} s"
    }
    assert IMPOSSIBLE in [check["description"] for check in plan["checks"]]
    assert not state.exists(), "a dry run started a mesh"

    text = cli("run", "3", "--dry-run")
    assert text.returncode == 0
    assert "nothing injected" in text.stdout and "bandwidth" in text.stdout


def test_a_broken_experiment_file_is_exit_2_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    text = SHIPPED.read_text()
    line = text.splitlines().index("    threshold: 2.0") + 1
    path.write_text(text.replace("threshold: 2.0", "threshold: two"))
    done = cli("run", str(path), "--dry-run")
    assert done.returncode == 2
    assert f"{path}:{line}: expectations[0].threshold:" in done.stderr, done.stderr


def test_the_failed_check_is_named_in_junit_and_json(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    done = cli(
        "run", str(broken_copy(tmp_path)), "--quick", "--base-port", "0",
        "--junit", str(junit), "--json",
        "--state-dir", str(tmp_path / "state"), "--out", str(tmp_path / "runs"),
        timeout=240,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads(done.stdout)  # progress went to stderr: stdout is the JSON alone
    assert result["passed"] is False
    (experiment,) = result["experiments"]
    failed = [c["description"] for c in experiment["expectations"] if not c["passed"]]
    assert failed == [IMPOSSIBLE]
    assert "samples" not in experiment and Path(result["report"]).is_file()

    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "my-broken-copy"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert suite.get("failures") == "1" and suite.get("errors") == "0"
    assert int(suite.get("tests") or 0) == len(cases) >= 6
    failure = cases[f"resilient during: {IMPOSSIBLE}"].find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("bytes_per_journey ")
    assert "wanted < 1 B; never met" in failure.get("message", "")
    passing = cases["naive during: hundreds of kilobytes per journey"]
    assert passing.find("failure") is None
