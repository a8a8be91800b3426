"""The console beside a mesh: served in its own process, found again, stopped with it.

``fallacies up`` launches ``fallacies console`` once the mesh is healthy (any
backend, foreground or detached), and the console writes ``console-<backend>.json``
in the state folder: its pid and URL, so ``fallacies console`` opens the one that
runs instead of starting a second. It leaves by itself when its mesh has been gone
for a few seconds (an ``up`` killed hard leaves no console behind), and ``down``
stops it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from chaos.console.server import ConsoleServer
from chaos.mesh.backend import MeshBackend
from chaos.mesh.errors import MeshError
from chaos.mesh.state import pid_alive

__all__ = ["ConsoleRecord", "launch", "log_path", "serve_until_gone", "stop"]

GONE_AFTER_S: Final = 6.0
"""The mesh unanswered this long: the console leaves."""
_CHECK_EVERY_S: Final = 2.0


@dataclass(frozen=True)
class ConsoleRecord:
    pid: int
    url: str
    page_url: str

    @staticmethod
    def path(state_dir: Path, backend: str) -> Path:
        return state_dir / f"console-{backend}.json"

    def write(self, state_dir: Path, backend: str) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        target = self.path(state_dir, backend)
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self)), encoding="utf-8")
        os.chmod(temporary, 0o600)  # the page URL may carry the admin token
        temporary.replace(target)

    @classmethod
    def read(cls, state_dir: Path, backend: str) -> ConsoleRecord | None:
        """The record of a console that is alive and answering, else None."""
        try:
            data = json.loads(cls.path(state_dir, backend).read_text(encoding="utf-8"))
            record = cls(pid=int(data["pid"]), url=str(data["url"]), page_url=str(data["page_url"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not pid_alive(record.pid) or not _answers(record.url):
            return None
        return record


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "healthz", timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


async def serve_until_gone(
    backend: MeshBackend,
    state_dir: Path,
    *,
    host: str,
    port: int,
    out_root: Path,
    ready: Callable[[ConsoleServer], None] | None = None,
    wait_s: float = 0.0,
) -> None:
    """Serve the console of the running mesh until a signal, or until the mesh is gone.

    ``wait_s``: how long to wait for the mesh to come up first (compose in the
    foreground starts it after the console).
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            state = await backend.running()
            break
        except MeshError:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.5)
    server = ConsoleServer(backend, state, host=host, port=port, out_root=out_root)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await server.start()
    record = ConsoleRecord(os.getpid(), server.url, server.page_url)
    record.write(state_dir, backend.name)
    try:
        if ready is not None:
            ready(server)
        gone_since: float | None = None
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), _CHECK_EVERY_S)
            alive = await backend.status() is not None
            now = time.monotonic()
            gone_since = None if alive else gone_since or now
            if gone_since is not None and now - gone_since >= GONE_AFTER_S:
                break
    finally:
        _forget(state_dir, backend.name)
        await server.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def log_path(state_dir: Path, backend: str) -> Path:
    """Where a launched console writes what it says (read it when it did not start)."""
    return state_dir / f"console-{backend}.log"


def _forget(state_dir: Path, backend: str) -> None:
    """Remove the record if it is this process's (a newer console may have replaced it)."""
    path = ConsoleRecord.path(state_dir, backend)
    try:
        mine = json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid()
    except (OSError, ValueError, AttributeError):
        return
    if mine:
        path.unlink(missing_ok=True)


def _gone(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # our own child (``up`` launched it): reap it
    return not pid_alive(pid)


def launch(
    backend: str,
    state_dir: Path,
    *,
    host: str,
    port: int,
    out_root: Path,
    wait_s: float = 0.0,
    timeout_s: float = 20.0,
) -> ConsoleRecord | None:
    """Start the console in its own session; its record once it answers (None when it
    waits for a mesh that is not up yet, or did not come up: see ``console.log``)."""
    existing = ConsoleRecord.read(state_dir, backend)
    if existing is not None:
        return existing
    state_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_path(state_dir, backend)
    args = [sys.executable, "-m", "chaos.cli", "console", "--no-open", "--serve"]
    args += [f"--{backend}"] if backend in ("compose", "swarm") else []
    args += ["--state-dir", str(state_dir), "--host", host, "--port", str(port)]
    args += ["--out", str(out_root), "--wait", str(wait_s)]
    with open(log_file, "wb") as log:
        child = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if wait_s:
        return None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        record = ConsoleRecord.read(state_dir, backend)
        if record is not None and record.pid == child.pid:
            return record
        if child.poll() is not None:
            break
        time.sleep(0.1)
    return None


def stop(state_dir: Path, backend: str, timeout_s: float = 5.0) -> bool:
    """Stop the console of that mesh if one runs; True if one did."""
    record = ConsoleRecord.read(state_dir, backend)
    if record is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while not _gone(record.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not _gone(record.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGKILL)
    ConsoleRecord.path(state_dir, backend).unlink(missing_ok=True)
    return True
