"""A swarm for the stack tests: this engine, made a one-node swarm for the session if it
is in none (and left again after), so ``fallacies up --swarm`` has a manager."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.compose.conftest import COMPOSE_DIR, missing, require_docker_daemon


def build_images() -> None:
    """compose/build-images.sh: cached steps skipped, the app image rebuilt if stale."""
    built = subprocess.run(
        ["bash", str(COMPOSE_DIR / "build-images.sh")], capture_output=True, text=True, timeout=900
    )
    assert built.returncode == 0, built.stderr[-3000:]


def swarm_state(docker: str) -> str:
    done = subprocess.run(
        [docker, "info", "--format", "{{.Swarm.LocalNodeState}}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stdout.strip()


@pytest.fixture(scope="session")
def swarm() -> Iterator[str]:
    docker = require_docker_daemon()
    joined = False
    if swarm_state(docker) == "inactive":
        done = subprocess.run(
            [docker, "swarm", "init", "--advertise-addr", "127.0.0.1"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            missing(f"`docker swarm init` failed: {done.stderr.strip()[:200]}")
        joined = True
    if swarm_state(docker) != "active":
        missing("this Docker engine is not an active swarm manager")
    yield docker
    if joined:
        subprocess.run([docker, "swarm", "leave", "--force"], capture_output=True, timeout=60)
