"""One node as a child process: start, stop, kill, pause, and what state it is in."""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from chaos.mesh.model import NodeState

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: a killed supervisor must not leave orphans."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


class NodeProcess:
    """Runs ``python -m chaos.node KIND --config FILE`` and tracks it.

    ``stopped`` means stopped on purpose (a fault or ``down``); ``exited`` means it
    died on its own or was killed from outside, which ``status`` reports as down.
    """

    def __init__(
        self,
        name: str,
        kind: str,
        config: dict[str, Any],
        run_dir: Path,
        command: tuple[str, ...] | None = None,
    ) -> None:
        self.name = name
        self.command = command
        self.kind = kind
        self.config = config
        self.run_dir = run_dir
        self.config_path = run_dir / f"{name}.json"
        self.log_path = run_dir / f"{name}.log"
        self.state: NodeState = "stopped"
        self.returncode: int | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._waiter: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self.returncode is None else None

    async def start(self) -> None:
        if self.state in ("starting", "running", "paused"):
            return
        self.config_path.write_text(json.dumps(self.config, indent=2))
        self.config_path.chmod(0o600)
        argv = self.command or (
            sys.executable,
            "-m",
            "chaos.node",
            self.kind,
            "--config",
            str(self.config_path),
        )
        log = open(self.log_path, "ab")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=_die_with_parent,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        finally:
            log.close()
        self.returncode = None
        self.state = "starting"
        self._waiter = asyncio.create_task(self._wait(self._proc))

    async def _wait(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if proc is self._proc:
            self.returncode = code
            if self.state != "stopped":
                self.state = "exited"

    def mark_running(self) -> None:
        if self.state == "starting":
            self.state = "running"

    async def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        proc = self._proc
        self.state = "stopped"
        if proc is None or proc.returncode is not None:
            return
        if self.returncode is None:
            self._signal(signal.SIGCONT)
            self._signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout):
                await proc.wait()
        except TimeoutError:
            self._signal(signal.SIGKILL)
            await proc.wait()
        if self._waiter is not None:
            await self._waiter

    async def kill(self) -> None:
        """SIGKILL, as a crash would: the node shows as ``exited``."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        self._signal(signal.SIGKILL)
        await proc.wait()
        if self._waiter is not None:
            await self._waiter

    async def pause(self) -> None:
        if self.state == "running":
            self._signal(signal.SIGSTOP)
            self.state = "paused"

    async def resume(self) -> None:
        if self.state == "paused":
            self._signal(signal.SIGCONT)
            self.state = "running"

    def _signal(self, sig: int) -> None:
        if self._proc is not None and self._proc.returncode is None:
            try:
                self._proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def log_tail(self, lines: int = 5) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
