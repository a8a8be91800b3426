"""The CI-sized soak: two minutes of cycling faults on the embedded mesh.

``bench/soak.py`` judges the run itself (RSS and fds per process after warm-up, fault
errors, leftovers); this checks its verdict, that the summary covers every process,
and that the mesh is gone afterwards. About 2 min 20 s on two cores.
"""

from __future__ import annotations

import csv
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.mesh.model import NODE_NAMES
from chaos.mesh.state import MeshState, pid_alive

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "chaos.cli"]

pytestmark = pytest.mark.timeout(480)


def test_two_minute_soak_passes(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    samples = tmp_path / "samples.csv"
    soak = subprocess.Popen(
        [sys.executable, "bench/soak.py", "--minutes", "2", "--seed", "5"]
        + ["--state-dir", str(state_dir), "--samples", str(samples)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        output, errors = soak.communicate(timeout=400)
    except subprocess.TimeoutExpired:
        soak.send_signal(signal.SIGTERM)  # it reverts its faults and tears the mesh down
        output, errors = soak.communicate(timeout=60)
        pytest.fail(f"the soak overran:\n{output}{errors}")
    finally:
        if soak.poll() is None:
            soak.kill()
        state = MeshState.read(state_dir)
        if state is not None and pid_alive(state.supervisor_pid):
            subprocess.run([*CLI, "down", "--state-dir", str(state_dir)], check=False)
            pytest.fail("the soak left its mesh running")
    assert soak.returncode == 0, output + errors
    assert output.rstrip().endswith("result: PASS")
    cycled = re.search(r"(\d+) faults cycled of (\d+) planned.*?(\d+) node restarts", output)
    assert cycled is not None, output
    assert int(cycled.group(1)) == int(cycled.group(2)) >= 10
    assert int(cycled.group(3)) >= 1
    assert "left behind after the reverts: none" in output
    processes = {"supervisor", *NODE_NAMES}
    rows = re.findall(r"^  ([\w-]+)\*?\s+\d+\s+\d+\s+[\d.]+\s+[\d.]+\s+[-+][\d.]+", output, re.M)
    assert set(rows) == processes, output
    with samples.open() as file:
        sampled = {line["process"] for line in csv.DictReader(file)}
    assert sampled == processes
