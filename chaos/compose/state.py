"""The ``MeshState`` of the compose mesh, so the runner and every fault work unchanged.

Seen from the host: node ``admin_url`` / ``metrics_url`` / ``health_url`` are the
ports published on 127.0.0.1, each link's ``api`` is the published API of the proxy
that carries it (the project's proxy for UDP, Toxiproxy for TCP), ``control_url`` the
control service (``chaos.compose.control``). ``listen`` and ``upstream`` stay the
addresses inside the project network, because that is what the nodes dial and what
faults write back into DNS records and link upstreams.

The admin token is the one secret that is not static: ``up`` draws it, hands it to the
containers as ``$FALLACIES_ADMIN_TOKEN`` and keeps it here (mode 0600) for the runner.

There is no supervisor process: ``supervisor_pid`` is 0 and the state lives in its
own directory (``<state dir>/compose``), apart from the embedded mesh's file, whose
liveness check is a pid.
"""

from __future__ import annotations

from pathlib import Path

from chaos.compose.topology import compose_plan
from chaos.mesh.state import MeshState, default_state_dir

__all__ = ["NO_SUPERVISOR", "compose_state", "compose_state_dir", "read_state", "write_state"]

NO_SUPERVISOR = 0
"""``supervisor_pid`` of a compose mesh: the Docker engine supervises, not a process of ours."""


def compose_state_dir(state_dir: Path | None = None) -> Path:
    return (state_dir or default_state_dir()) / "compose"


def compose_state(admin_token: str | None = None) -> MeshState:
    """The compose mesh's state: the topology plus the admin token it was started with."""
    return MeshState.from_plan(compose_plan(admin_token), supervisor_pid=NO_SUPERVISOR)


def write_state(state_dir: Path | None = None, admin_token: str | None = None) -> Path:
    return compose_state(admin_token).write(compose_state_dir(state_dir))


def read_state(state_dir: Path | None = None) -> MeshState | None:
    return MeshState.read(compose_state_dir(state_dir))
