"""What ``fallacies up --swarm`` says before it touches anything: a fake ``docker`` on
PATH plays an engine outside any swarm, or a worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def fake_docker(tmp_path: Path, swarm: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    log = tmp_path / "calls"
    script.write_text(
        f'#!/bin/sh\necho "$*" >> {log}\n'
        f'case "$1" in info) echo "{swarm}" ;; *) echo "unexpected: $*" >&2; exit 9 ;; esac\n'
    )
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def up(env: dict[str, str], tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaos.cli", "up", "--swarm", "--no-console", *extra,
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=60, env={**env, "COLUMNS": "200"}, cwd=ROOT,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("swarm", "says"),
    [
        ("inactive false", "not in a swarm (state: inactive): run `docker swarm init"),
        ("active false", "this engine is a swarm worker"),
    ],
)
def test_an_engine_that_manages_no_swarm_is_named_and_nothing_is_deployed(
    tmp_path: Path, swarm: str, says: str
) -> None:
    done = up(fake_docker(tmp_path, swarm), tmp_path, "--detach")
    assert done.returncode == 1, done.stdout + done.stderr
    assert says in " ".join(done.stderr.split())
    assert (tmp_path / "calls").read_text().split("\n")[0].startswith("info")
    assert "stack" not in (tmp_path / "calls").read_text()


def test_options_the_stack_cannot_honour_are_refused_with_exit_2(tmp_path: Path) -> None:
    env = fake_docker(tmp_path, "active true")
    assert "--detach" in up(env, tmp_path).stderr
    for option in ("--grafana", "--toxiproxy", "--compose"):
        done = up(env, tmp_path, "--detach", option)
        assert done.returncode == 2, (option, done.stdout + done.stderr)
    assert not (tmp_path / "calls").exists()


def test_the_lab_says_what_is_wrong_before_it_starts_anything(tmp_path: Path) -> None:
    env = fake_docker(tmp_path, "inactive false")
    done = subprocess.run(
        [sys.executable, "-m", "chaos.swarm.lab", "up", "--engines", "12"],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 1
    assert "a lab has 1 to 9 engines, not 12" in done.stderr
    assert not (tmp_path / "calls").exists()
