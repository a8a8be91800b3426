"""The CI-sized fuzz: 200,000 mutated datagrams each to the DNS and NTP servers.

``bench/fuzz.py`` judges the run itself (probes answered right, RSS bound, malformed
counters, TCP abuse closed); this checks its verdict and that the summary says what
was done. About 35 s on two cores.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKETS = 200_000

pytestmark = pytest.mark.timeout(480)


def row(output: str, label: str) -> list[str]:
    """The two cells (dns, ntp) of one row of the summary table."""
    match = re.search(rf"^  {re.escape(label)}\s+(\S+)\s+(\S+)$", output, re.M)
    assert match is not None, f"no {label!r} row in:\n{output}"
    return [match.group(1), match.group(2)]


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


def test_fuzz_200k_passes() -> None:
    result = subprocess.run(
        [sys.executable, "bench/fuzz.py", "--packets", str(PACKETS), "--seed", "12"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    assert output.rstrip().endswith("result: PASS")
    assert all(number(c) >= PACKETS for c in row(output, "datagrams sent"))
    for cell in row(output, "probes answered right"):
        answered, probes = (number(n) for n in cell.split("/"))
        assert answered == probes >= PACKETS // 64
    assert row(output, "right answer after") == ["yes", "yes"]
    assert all(number(c) <= 10.0 for c in row(output, "RSS growth after warm-up (%)"))
    for line in ("malformed, dns udp", "malformed, dns tcp", "malformed, ntp"):
        counts = re.search(rf"^  {line}:\s+(.+)$", output, re.M)
        assert counts is not None and counts.group(1) != "none", output
    assert "10 slow connections closed" in output
