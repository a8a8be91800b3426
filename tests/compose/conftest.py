"""Docker for the compose tests: the CLI, the Compose v2 plugin, a daemon that answers.

Each is an outside tool: missing, the test skips on a laptop and fails under
``FALLACIES_REQUIRE_TOOLS=1`` (CI), like ``require_tool``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_TOOLS, require_tool

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"


def missing(message: str) -> None:
    """Skip, or fail when outside tools are required."""
    if REQUIRE_TOOLS:
        pytest.fail(f"{message} (FALLACIES_REQUIRE_TOOLS is set, skips are failures)")
    pytest.skip(message)


def require_compose() -> str:
    """The docker CLI with the Compose v2 plugin (enough for ``compose config``)."""
    docker = require_tool("docker")
    done = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, timeout=30
    )
    if done.returncode != 0:
        missing("the Docker Compose v2 plugin is missing (`docker compose version` failed)")
    return docker


def require_docker_daemon() -> str:
    """Compose plus a Docker engine that answers."""
    docker = require_compose()
    done = subprocess.run(
        [docker, "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        missing(f"the Docker engine does not answer: {done.stderr.strip()[:200]}")
    return docker


def require_docker_sdk() -> None:
    try:
        import docker  # noqa: F401
    except ImportError:
        missing("the docker Python SDK is not installed (pip install 'docker>=7')")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The timings the compose tests measured (image build, up, restart)."""
    from tests.compose import test_e2e

    if test_e2e.TIMINGS:
        terminalreporter.section("compose timings")
        for what, seconds in test_e2e.TIMINGS.items():
            terminalreporter.write_line(f"{seconds:7.1f} s  {what}")
