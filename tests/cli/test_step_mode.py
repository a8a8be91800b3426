"""``run all --step`` in a pseudo-terminal, as a facilitator drives it: single keys
(no Enter after s or q), the question after a run, and an honest count at an early stop."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaos.loader import load_all

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="a Linux pseudo-terminal")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


class Terminal:
    """The CLI on the slave end of a pty; what it wrote is read from the master end."""

    def __init__(self, args: list[str]) -> None:
        self.master, slave = os.openpty()
        env = {**os.environ, "COLUMNS": "120", "LINES": "40", "NO_COLOR": "1", "TERM": "xterm"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chaos.cli", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.text = ""

    def wait_for(self, pattern: str, timeout: float, start: int = 0) -> int:
        """Where ``pattern`` first appears after ``start``, reading until it does."""
        deadline = time.monotonic() + timeout
        while (found := self.text.find(pattern, start)) < 0:
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None and not self._read(0.2):
                raise AssertionError(f"no {pattern!r} in:\n{self.text[-3000:]}")
            self._read(min(left, 0.5))
        return found + len(pattern)

    def press(self, key: str) -> None:
        os.write(self.master, key.encode())

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # the child closed its end
            return False
        self.text += ANSI.sub("", data.decode(errors="replace"))
        return bool(data)

    def close(self) -> int:
        """Its exit code, reading on meanwhile (a full pty would block its writes);
        interrupted as a facilitator would (^C) if it has not ended within a minute."""
        for deadline, interrupt in ((60.0, True), (60.0, False)):
            end = time.monotonic() + deadline
            while self.process.poll() is None and time.monotonic() < end:
                self._read(0.2)
            if self.process.poll() is not None or not interrupt:
                break
            self.process.send_signal(signal.SIGINT)  # the CLI reverts its faults on ^C
        while self._read(0.1):
            pass
        os.close(self.master)
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait()


def test_a_room_skips_one_runs_one_and_stops_with_an_honest_count(tmp_path: Path) -> None:
    names = [e.name for e in load_all()]
    term = Terminal(
        [
            "run", "all", "--quick", "--step", "--base-port", "0",
            "--state-dir", str(tmp_path / "state"), "--out", str(tmp_path / "runs"),
        ]
    )  # fmt: skip
    try:
        at = term.wait_for("1/8 · fallacy 1", 60)
        at = term.wait_for("Enter: run it · s: skip it · q: stop here", 10, at)
        term.press("s")  # no Enter: the key acts at once
        at = term.wait_for("2/8 · fallacy 2", 10, at)
        for heading in ("The fallacy", "What we inject", "What to watch", "The pattern"):
            at = term.wait_for(heading, 10, at)
        at = term.wait_for("q: stop here", 10, at)
        term.press("\r")
        at = term.wait_for("Ask the room", 180, at)
        at = term.wait_for("Enter: next experiment · q: stop here", 10, at)
        term.press("q")
        at = term.wait_for("1 run, 7 not run", 30, at)
    finally:
        code = term.close()
    tail = term.text[at - len("1 run, 7 not run") :]
    assert f"1 skipped: {names[0]}; stopped before: {', '.join(names[2:])}" in tail
    assert "1/1 experiments passed; 7 of 8 not run" in tail
    assert code == 0, term.text[-2000:]
    assert sorted(p.name for p in (tmp_path / "runs").glob("0*.json")) == [
        "02-latency-is-zero.json"
    ]
