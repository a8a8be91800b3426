"""``command``: a program of one's own; passes on exit code 0, or — with ``op`` and
``threshold`` — when the last number it prints holds. No shell: ``run`` is split like a
shell would, and runs as is."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import shlex
import signal
from collections.abc import Mapping
from typing import Any

import aiohttp

from chaos.probes.base import (
    Measurement,
    Probe,
    ProbeSpecError,
    compare,
    comparison,
    known_fields,
    seconds,
    shown,
)

DEFAULT_TIMEOUT_S = 10.0
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class CommandProbe(Probe):
    kind = "command"

    def __init__(
        self,
        argv: tuple[str, ...],
        *,
        op: str | None = None,
        threshold: float = 0.0,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.argv = argv
        self.op = op
        self.threshold = threshold
        self.timeout_s = timeout_s

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> CommandProbe:
        known_fields(spec, ("run",), ("op", "threshold", "timeout"))
        run = spec["run"]
        if isinstance(run, str):
            try:
                argv = shlex.split(run)
            except ValueError as exc:
                raise ProbeSpecError("run", f"cannot split {run!r}: {exc}") from None
        elif isinstance(run, list) and all(isinstance(a, str) for a in run):
            argv = list(run)
        else:
            raise ProbeSpecError("run", "must be a command line or a list of arguments")
        if not argv:
            raise ProbeSpecError("run", "is empty")
        op: str | None = None
        threshold = 0.0
        if "op" in spec or "threshold" in spec:
            op, threshold = comparison(spec)
        timeout = seconds(spec, "timeout", DEFAULT_TIMEOUT_S) or DEFAULT_TIMEOUT_S
        return cls(tuple(argv), op=op, threshold=threshold, timeout_s=timeout)

    def describe(self) -> str:
        line = shlex.join(self.argv)
        if self.op is None:
            return f"`{line}` exits 0"
        return f"`{line}` prints a number {self.op} {shown(self.threshold)}"

    async def measure(self, session: aiohttp.ClientSession) -> Measurement:
        try:
            process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            return Measurement(False, None, f"cannot run {self.argv[0]!r}: {reason}")
        try:
            async with asyncio.timeout(self.timeout_s):
                out, err = await process.communicate()
        except TimeoutError:
            await _kill(process)
            return Measurement(
                False, None, f"still running after {shown(self.timeout_s)} s (killed)"
            )
        except BaseException:  # cancelled with the run: the program must not outlive it
            await asyncio.shield(_kill(process))
            raise
        code = process.returncode if process.returncode is not None else -1
        if self.op is None:
            last = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
            detail = "" if code == 0 else f"exit code {code}" + (f": {last[0]}" if last[0] else "")
            return Measurement(code == 0, float(code), detail)
        numbers = _NUMBER.findall(out.decode(errors="replace"))
        if code != 0:
            return Measurement(False, None, f"exit code {code}")
        if not numbers:
            return Measurement(False, None, "printed no number")
        value = float(numbers[-1])
        if not math.isfinite(value):
            return Measurement(False, None, f"printed {numbers[-1]}, not a finite number")
        if not compare(value, self.op, self.threshold):
            return Measurement(False, value, f"printed {shown(value)}")
        return Measurement(True, value)


async def _kill(process: asyncio.subprocess.Process) -> None:
    """The program and whatever it started (its own session), and wait for it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()
