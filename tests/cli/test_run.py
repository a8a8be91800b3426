"""``fallacies run`` as a user runs it: what a backend cannot do is refused by the backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "chaos.cli"]


def test_a_defence_switched_off_on_the_compose_mesh_is_refused(tmp_path: Path) -> None:
    """The CLI does not ask which backend it holds: the compose backend says no itself,
    before any fault, whether or not a compose mesh is up."""
    done = subprocess.run(
        [
            *CLI,
            "run",
            "1",
            "--quick",
            "--target",
            "compose",
            "--disable-defence",
            "retries",
            "--state-dir",
            str(tmp_path / "state"),
            "--out",
            str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "need the embedded mesh" in done.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").glob("*.json"))
