"""Ephemeral ports: meshes planned at once, in one process or several, never share one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from chaos.embedded.ports import _Reservations

TAKE = """
import sys
from chaos.embedded.ports import PortAllocator
take = PortAllocator(0).take
print(" ".join(str(take()) for _ in range(int(sys.argv[1]))))
"""

CLAIM = """
import sys
from pathlib import Path
from chaos.embedded.ports import _Reservations
print(_Reservations(path=Path(sys.argv[1])).claim(int(sys.argv[2])))
"""


def test_two_processes_planning_at_once_draw_no_common_port() -> None:
    """400 ports each from 22k: without a claim both can see, about 7 would be drawn twice."""
    takers = [
        subprocess.Popen([sys.executable, "-c", TAKE, "400"], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    drawn = [set(map(int, taker.communicate(timeout=60)[0].split())) for taker in takers]
    assert all(taker.returncode == 0 for taker in takers)
    assert [len(ports) for ports in drawn] == [400, 400]
    assert drawn[0] & drawn[1] == set()


def test_a_claim_made_in_another_process_holds_here(tmp_path: Path) -> None:
    path = tmp_path / "claims.json"
    other = subprocess.run(
        [sys.executable, "-c", CLAIM, str(path), "20001"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert other.stdout.strip() == "True"
    mine = _Reservations(path=path)
    assert mine.claim(20001) is False
    assert mine.claim(20002) is True


def test_a_claim_lapses_after_its_hold(tmp_path: Path) -> None:
    path = tmp_path / "claims.json"
    assert _Reservations(hold_s=60, path=path).claim(20001) is True
    assert _Reservations(hold_s=60, path=path).claim(20001) is False
    assert _Reservations(hold_s=0, path=path).claim(20001) is True


def test_a_torn_claims_file_is_read_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "claims.json"
    path.write_text('{"20001": ')
    assert _Reservations(path=path).claim(20001) is True
    assert _Reservations(path=path).claim(20001) is False


def test_without_a_writable_file_the_process_keeps_its_own_claims(tmp_path: Path) -> None:
    reservations = _Reservations(path=tmp_path / "missing-dir" / "claims.json")
    assert reservations.claim(20001) is True
    assert reservations.claim(20001) is False
