"""``fallacies links`` and ``fallacies fault ...`` against a detached mesh."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.embedded.test_up import cli


def test_fault_commands_round_trip(tmp_path: Path) -> None:
    state = ["--state-dir", str(tmp_path / "state")]
    assert cli("up", "--detach", "--base-port", "0", *state).returncode == 0
    try:
        links = cli("links", *state)
        assert links.returncode == 0
        for name in ("dns", "dns-tcp", "ntp-a", "api-1", "repl-1-2", "repl-2-1"):
            assert f"│ {name} " in links.stdout, links.stdout

        added = cli(
            "fault",
            "add",
            "api-1",
            "latency",
            "--latency",
            "150",
            "--jitter",
            "5",
            "--ttl",
            "60",
            *state,
        )
        assert added.returncode == 0, added.stderr
        assert "latency=150" in added.stdout and "jitter=5" in added.stdout

        down = cli("fault", "add", "repl-1-2", "down", "--ttl", "60", *state)
        assert down.returncode == 0, down.stderr

        listed = cli("fault", "ls", *state)
        assert "api-1: latency_downstream" in listed.stdout
        assert "repl-1-2: link down" in listed.stdout

        unknown = cli("fault", "add", "nope", "latency", *state)
        assert unknown.returncode == 1
        assert "no link named 'nope'" in unknown.stderr

        bad = cli("fault", "add", "api-1", "bandwidth", "--rate", "-5", *state)
        assert bad.returncode == 1
        assert "rate" in bad.stderr

        udp_only = cli("fault", "add", "api-1", "loss", "--probability", "0.5", *state)
        assert udp_only.returncode == 1 and "udp" in udp_only.stderr.lower()

        removed = cli("fault", "rm", "api-1", "latency_downstream", *state)
        assert removed.returncode == 0, removed.stderr
        assert cli("fault", "reset", *state).returncode == 0
        assert "no active faults" in cli("fault", "ls", *state).stdout

        # 5 s: the next CLI call must see it paused, and a CLI starts in 1 s on a loaded machine.
        paused = cli("node", "api-2", "pause", "--ttl", "5", *state)
        assert paused.returncode == 0, paused.stderr
        assert "api-2: paused" in paused.stdout and "resume api-2 in 5 s" in paused.stdout
        assert re.search(r"api-2\s+│ paused", cli("status", *state).stdout)
        deadline = time.monotonic() + 30
        while (status := cli("status", *state)).returncode != 0:  # every node healthy
            assert time.monotonic() < deadline, status.stdout + status.stderr
        assert re.search(r"api-2\s+│ running", status.stdout), status.stdout
        bad_ttl = cli("node", "api-2", "pause", "--ttl", "0", *state)
        assert bad_ttl.returncode == 2 and "ttl" in bad_ttl.stderr.lower()
    finally:
        cli("down", *state)
