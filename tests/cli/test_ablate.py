"""``fallacies ablate`` as a user runs it: the matrix files, the exit code, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "chaos.cli"]
ENV = {**os.environ, "COLUMNS": "100"}


def ablate(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "ablate", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
        check=False,
    )


def test_an_unknown_experiment_is_refused_before_any_mesh_starts() -> None:
    done = ablate("9", timeout=60)
    assert done.returncode == 2
    assert "no experiment '9'" in done.stderr


def test_side_by_side_cells_want_free_ports() -> None:
    done = ablate("4", "--jobs", "2", "--base-port", "17000", timeout=60)
    assert done.returncode == 2
    assert "--base-port 0" in done.stderr


def test_one_experiment_writes_its_matrix_and_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "matrix"
    done = ablate("4", "--quick", "--jobs", "2", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "breaks without verify_signatures" in done.stdout
    assert "1/1 defences proven" in done.stdout
    data = json.loads((out / "matrix.json").read_text())
    assert data["passed"] and data["proven"] == 1
    (row,) = data["experiments"]
    (cell,) = row["cells"]
    assert cell["defence"] == "verify_signatures" and cell["verdict"] == "breaks"
    # Both runs' journals are kept beside the matrix, as the matrix links them.
    assert (out / row["all_on_journal"]).is_file()
    assert (out / cell["journal"]).is_file()
    assert (out / "matrix.html").read_text().count("breaks") >= 1
