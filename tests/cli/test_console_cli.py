"""``fallacies up`` serves the console and prints its URL; ``console`` finds it; ``down``
stops it; a console whose mesh died leaves by itself."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from chaos.console.lifecycle import ConsoleRecord
from chaos.mesh.state import MeshState, pid_alive
from tests.polling import eventually

CLI = [sys.executable, "-m", "chaos.cli"]
ENV = {**os.environ, "COLUMNS": "200"}


def _cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=ENV, timeout=timeout, check=False
    )


def _url(text: str) -> str:
    found = re.search(r"web console: (http://127\.0\.0\.1:\d+/\S*)", text)
    assert found, text
    return found[1]


def _healthy(url: str) -> bool:
    base = url.split("#", 1)[0]
    with urllib.request.urlopen(base + "healthz", timeout=5) as response:
        return bool(response.status == 200)


async def test_up_serves_the_console_and_down_stops_it(tmp_path: Path) -> None:
    state_dir = str(tmp_path / "state")
    up = _cli("up", "--detach", "--base-port", "0", "--no-prometheus", "--state-dir", state_dir)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        url = _url(up.stdout)
        assert _healthy(url)
        state = MeshState.read(tmp_path / "state")
        assert state is not None
        assert url.endswith(f"#token={state.secrets['admin_token']}")
        again = _cli("console", "--no-open", "--state-dir", state_dir)
        assert again.returncode == 0 and url in again.stdout, again.stdout + again.stderr
        record = ConsoleRecord.read(tmp_path / "state", "embedded")
        assert record is not None and oct(
            (tmp_path / "state" / "console-embedded.json").stat().st_mode & 0o777
        ) == oct(0o600)
    finally:
        down = _cli("down", "--state-dir", state_dir)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not pid_alive(record.pid)
    assert not (tmp_path / "state" / "console-embedded.json").exists()


async def test_a_console_whose_mesh_died_leaves_by_itself(tmp_path: Path) -> None:
    state_dir = str(tmp_path / "state")
    up = _cli("up", "--detach", "--base-port", "0", "--no-prometheus", "--state-dir", state_dir)
    state = MeshState.read(tmp_path / "state")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        record = ConsoleRecord.read(tmp_path / "state", "embedded")
        assert record is not None
        assert state is not None
        os.kill(state.supervisor_pid, signal.SIGKILL)
        await eventually(
            lambda: not pid_alive(record.pid), timeout=30.0, what="the orphaned console gone"
        )
    finally:
        _cli("down", "--state-dir", state_dir)
        if state is not None:
            for node in state.nodes.values():
                if node.pid and pid_alive(node.pid):
                    os.kill(node.pid, signal.SIGKILL)
