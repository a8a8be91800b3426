"""``up``, ``down`` and ``status`` as plain async functions; the CLI only renders them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from chaos.embedded.supervisor import Supervisor
from chaos.mesh.errors import MeshError
from chaos.mesh.model import MeshPlan
from chaos.mesh.state import MeshState, pid_alive


def running_mesh(state_dir: Path) -> MeshState | None:
    state = MeshState.read(state_dir)
    if state is None:
        return None
    if not pid_alive(state.supervisor_pid):
        MeshState.remove(state_dir)
        return None
    return state


def refuse_if_running(state_dir: Path) -> None:
    state = running_mesh(state_dir)
    if state is not None:
        raise MeshError(
            f"a mesh is already running (supervisor pid {state.supervisor_pid}, "
            f"{state.control_url}); stop it with `fallacies down`"
        )


async def run_foreground(
    plan: MeshPlan, state_dir: Path, on_ready: Callable[[Supervisor], None]
) -> None:
    """Start the mesh, call ``on_ready``, and keep it up until a signal or ``down``."""
    refuse_if_running(state_dir)
    supervisor = Supervisor(plan, state_dir)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, supervisor.shutdown_requested.set)
    try:
        await supervisor.start()
        on_ready(supervisor)
        await supervisor.shutdown_requested.wait()
    finally:
        await supervisor.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def start_detached(args: list[str], state_dir: Path, timeout_s: float = 30.0) -> MeshState:
    """Run ``fallacies up ARGS`` in its own session and return once the mesh is healthy."""
    refuse_if_running(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "up.log"
    with open(log_path, "wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "chaos.cli", "up", *args, "--state-dir", str(state_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = MeshState.read(state_dir)
        if state is not None and state.supervisor_pid == child.pid:
            return state
        if child.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-8:]
            raise MeshError("the mesh did not start:\n" + "\n".join(tail))
        time.sleep(0.05)
    child.terminate()
    raise MeshError(f"the mesh was not healthy within {timeout_s:.0f} s; see {log_path}")


async def shut_down(state_dir: Path, timeout_s: float = 15.0) -> list[int]:
    """Stop the mesh; return the pids that had to be killed by force (ideally none)."""
    state = MeshState.read(state_dir)
    if state is None:
        raise MeshError("no mesh is running (no state file); nothing to stop")
    try:
        async with state.session(3) as session:
            async with session.post(f"{state.control_url}/shutdown"):
                pass
    except (aiohttp.ClientError, TimeoutError):
        if pid_alive(state.supervisor_pid):
            os.kill(state.supervisor_pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while pid_alive(state.supervisor_pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    forced: list[int] = []
    pids = [state.supervisor_pid] + [node.pid for node in state.nodes.values() if node.pid]
    for pid in pids:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
                forced.append(pid)
            except ProcessLookupError:
                pass
    MeshState.remove(state_dir)
    return forced
