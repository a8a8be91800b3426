"""A runner killed with SIGKILL mid-fault leaves nothing behind once the TTLs pass."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from chaos.mesh.state import MeshState
from tests.runner.cleanliness import leftovers

CLI = [sys.executable, "-m", "chaos.cli"]
ENV = {**os.environ, "COLUMNS": "200"}


SCENARIOS = [
    # How many leftovers the method leaves while it runs: every fault has landed.
    ("one-administrator", 3),
    # api-1 stopped; api-2's link moved and the SRV record pointing at its new port.
    ("topology-doesnt-change", 3),
    # Two bandwidth toxics; a new catalog version on both replicas.
    ("bandwidth-is-infinite", 4),
]


async def test_sigkilled_runners_leave_no_fault(tmp_path: Path) -> None:
    """One mesh per experiment, side by side on ephemeral ports, a runner killed on each."""
    done = await asyncio.gather(
        *(killed_mid_fault(name, faults, tmp_path / name) for name, faults in SCENARIOS),
        return_exceptions=True,
    )
    failed = {name: repr(r) for (name, _), r in zip(SCENARIOS, done, strict=True) if r is not None}
    assert failed == {}


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=ENV, timeout=timeout, check=False
    )


async def killed_mid_fault(experiment: str, faults: int, work: Path) -> None:
    state_dir = work / "state"
    up = await asyncio.to_thread(
        _cli, "up", "--detach", "--base-port", "0", "--state-dir", str(state_dir)
    )
    assert up.returncode == 0, up.stderr
    runner: subprocess.Popen[bytes] | None = None
    try:
        state = MeshState.read(state_dir)
        assert state is not None
        runner = subprocess.Popen(
            [*CLI, "run", experiment, "--quick", "--state-dir", str(state_dir),
             "--out", str(work / "runs")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
        )  # fmt: skip
        deadline = time.monotonic() + 60  # three meshes side by side on two cores
        while len(await leftovers(state)) < faults:
            assert runner.poll() is None, "the runner ended before injecting"
            assert time.monotonic() < deadline, "the faults never appeared"
            await asyncio.sleep(0.2)
        runner.send_signal(signal.SIGKILL)
        await asyncio.to_thread(runner.wait, 10)
        assert len(await leftovers(state)) >= faults, "faults should outlive the runner a while"
        # Quick faults last at most 10 s, plus the 5 s TTL margin; 60 s for three loaded meshes.
        killed_at = time.monotonic()
        seen: dict[str, float] = {}
        remaining = await leftovers(state)
        while remaining and time.monotonic() < killed_at + 60:
            for item in remaining:
                seen.setdefault(item, round(time.monotonic() - killed_at, 1))
            await asyncio.sleep(0.5)
            remaining = await leftovers(state)
        assert remaining == [], _explain(remaining, seen, state_dir)
    finally:
        if runner is not None and runner.poll() is None:
            runner.kill()
            await asyncio.to_thread(runner.wait, 10)
        await asyncio.to_thread(_cli, "down", "--state-dir", str(state_dir))


def _explain(remaining: list[str], seen: dict[str, float], state_dir: Path) -> str:
    """What stayed, since when, and the log of any node still down: a flake must say why."""
    lines = [f"still there: {remaining}", f"first seen (s after the kill): {seen}"]
    for item in remaining:
        if item.startswith("node ") and " is down" in item:
            log = state_dir / "run" / f"{item.split()[1]}.log"
            if log.exists():
                tail = log.read_text(errors="replace").splitlines()[-15:]
                lines += [f"--- {log.name}", *tail]
    return "\n".join(lines)
