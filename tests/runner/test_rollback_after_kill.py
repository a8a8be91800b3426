"""A runner killed with SIGKILL mid-fault leaves nothing behind once the TTLs pass."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaos.mesh.state import MeshState
from tests.runner.cleanliness import leftovers

CLI = [sys.executable, "-m", "chaos.cli"]
ENV = {**os.environ, "COLUMNS": "200"}


@pytest.mark.parametrize(
    ("experiment", "faults"),
    # How many leftovers the method leaves while it runs: every fault has landed.
    [
        ("one-administrator", 3),
        # api-1 stopped; api-2's link moved and the SRV record pointing at its new port.
        ("topology-doesnt-change", 3),
        # Two bandwidth toxics; a new catalog version on both replicas.
        ("bandwidth-is-infinite", 4),
    ],
)
async def test_sigkilled_runner_leaves_no_fault(
    experiment: str, faults: int, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    up = subprocess.run(
        [*CLI, "up", "--detach", "--base-port", "0", "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
        check=False,
    )
    assert up.returncode == 0, up.stderr
    runner: subprocess.Popen[bytes] | None = None
    try:
        state = MeshState.read(state_dir)
        assert state is not None
        runner = subprocess.Popen(
            [
                *CLI,
                "run",
                experiment,
                "--quick",
                "--state-dir",
                str(state_dir),
                "--out",
                str(tmp_path / "runs"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=ENV,
        )
        deadline = time.monotonic() + 40
        while len(await leftovers(state)) < faults:
            assert runner.poll() is None, "the runner ended before injecting"
            assert time.monotonic() < deadline, "the faults never appeared"
            await asyncio.sleep(0.2)
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)
        assert len(await leftovers(state)) >= faults, "faults should outlive the runner a while"
        # Quick faults last at most 10 s, plus the 5 s TTL margin.
        deadline = time.monotonic() + 30
        remaining = await leftovers(state)
        while remaining and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            remaining = await leftovers(state)
        assert remaining == []
    finally:
        if runner is not None and runner.poll() is None:
            runner.kill()
            runner.wait(timeout=10)
        subprocess.run(
            [*CLI, "down", "--state-dir", str(state_dir)],
            env=ENV,
            capture_output=True,
            timeout=60,
            check=False,
        )
