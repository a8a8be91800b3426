"""``fallacies up`` / ``status`` / ``down`` as a user runs them, with real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaos.embedded.plan import build_plan
from chaos.embedded.prometheus import find_prometheus
from chaos.mesh.control import fetch_status
from chaos.mesh.state import MeshState, pid_alive

CLI = [sys.executable, "-m", "chaos.cli"]
ENV = {**os.environ, "COLUMNS": "200"}


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=ENV, check=False
    )


def processes_mentioning(marker: str) -> list[int]:
    """Pids whose command line names ``marker`` (the state dir is in every node's argv)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


async def poll_status(state: MeshState, predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    rows = None
    while time.monotonic() < deadline:
        rows = await fetch_status(state)
        if rows is not None and predicate({row.name: row for row in rows}):
            return {row.name: row for row in rows}
        await asyncio.sleep(0.1)
    raise AssertionError(f"status never matched: {rows}")


async def test_killed_node_shows_down_and_down_leaves_no_orphan(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    started = cli("up", "--detach", "--base-port", "0", "--state-dir", str(state_dir))
    assert started.returncode == 0, started.stderr + started.stdout
    try:
        state = MeshState.read(state_dir)
        assert state is not None
        expected = {
            "dns",
            "ntp-a",
            "ntp-b",
            "ntp-c",
            "api-1",
            "api-2",
            "rogue",
            "proxy",
            "workload",
            *(("prometheus",) if find_prometheus() else ()),
        }
        assert set(state.nodes) == expected
        rows = await poll_status(state, lambda by: all(r.healthy for r in by.values()))
        assert set(rows) == expected

        victim = int(state.nodes["api-1"].pid or 0)
        os.kill(victim, signal.SIGKILL)
        rows = await poll_status(state, lambda by: by["api-1"].state == "exited")
        assert not rows["api-1"].healthy
        assert rows["api-1"].returncode == -signal.SIGKILL
        assert rows["api-2"].healthy

        shown = cli("status", "--state-dir", str(state_dir))
        assert shown.returncode == 1
        api_line = next(line for line in shown.stdout.splitlines() if "api-1" in line)
        assert "down" in api_line and "exited" in api_line
    finally:
        stopped = cli("down", "--state-dir", str(state_dir))
    assert stopped.returncode == 0, stopped.stderr
    assert "had to kill" not in stopped.stdout
    assert not pid_alive(state.supervisor_pid)
    for node in state.nodes.values():
        assert not pid_alive(int(node.pid or 0)), node
    assert processes_mentioning(str(state_dir)) == []
    assert MeshState.read(state_dir) is None


def test_taken_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        base = blocker.getsockname()[1]
    # Occupy the port the layout gives api-1 when it starts at ``base``.
    layout = build_plan(base_port=base)
    taken = int(layout.node("api-1").listen["http"].rsplit(":", 1)[1])
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", taken))
        blocker.listen()
        result = cli("up", "--base-port", str(base), "--state-dir", str(tmp_path))
    assert result.returncode == 1
    assert str(taken) in result.stderr and "api-1" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_down_without_mesh_says_so(tmp_path: Path) -> None:
    result = cli("down", "--state-dir", str(tmp_path))
    assert result.returncode == 1
    assert "no mesh is running" in result.stderr


@pytest.mark.parametrize("command", ["status"])
def test_status_without_mesh(tmp_path: Path, command: str) -> None:
    result = cli(command, "--state-dir", str(tmp_path))
    assert result.returncode == 1
    assert "no mesh is running" in result.stderr
