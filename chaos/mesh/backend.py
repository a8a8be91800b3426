"""What runs a mesh: the one interface the CLI, the runner and the console go through.

    MeshBackend ── up / down / status / running   the lifecycle a person drives
                └─ for_run                         the mesh an experiment runs on
    implemented by  chaos.embedded.EmbeddedBackend  every node a local process
                    chaos.compose.ComposeBackend    every node a container

Everything after ``running`` is the same for every backend: the ``MeshState`` says
where each node, link and the control API are, node actions go through the control
API (``chaos.mesh.control``), link faults through the links' proxies
(``chaos.mesh.links``). No caller asks which backend it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chaos.mesh.model import DEFAULT_SCALE, MeshPlan, NodeStatus, Scale
from chaos.mesh.state import MeshState

__all__ = ["SCALE_IS_SWARM", "MeshBackend", "Ready", "UpOptions"]

SCALE_IS_SWARM = (
    "--api-replicas and --workloads are for the Swarm stack (--swarm): the embedded and "
    f"compose meshes run {DEFAULT_SCALE.api} replicas and {DEFAULT_SCALE.workloads} workload pair"
)


@dataclass(frozen=True, kw_only=True)
class UpOptions:
    """How to start a mesh; a backend refuses, with a MeshError, what it cannot honour."""

    detach: bool = False
    """Return once healthy; the mesh keeps running."""
    base_port: int = 17000
    """Embedded: first port of the layout; 0 picks free ports."""
    toxiproxy: bool = False
    """Embedded: carry the TCP links on a real toxiproxy-server."""
    seed: int | None = None
    prometheus: bool = True
    """Embedded: also run Prometheus when it is installed (compose always runs its own)."""
    build: bool = False
    """Compose: build the images first."""
    grafana: bool = False
    """Compose: also start Grafana."""
    env_file: Path | None = None
    """Compose: image overrides (compose/offline.env from the offline build)."""
    client: str | None = None
    """Embedded: a client of one's own run beside the two (``file.py:Class``, path absolute)."""
    scale: Scale = DEFAULT_SCALE
    """Swarm: how many API replicas and workload pairs (the other meshes run the default)."""


Ready = Callable[[MeshPlan, float | None], None]
"""Called once a foreground mesh is healthy: its plan and how long that took (seconds)."""


class MeshBackend(Protocol):
    name: str
    """``embedded`` or ``compose``: what journals and reports say a run was against."""

    def up(self, options: UpOptions, ready: Ready) -> MeshState | None:
        """Start the mesh. Detached: return its state once healthy. In the foreground:
        call ``ready``, block until it is stopped, and return None."""
        ...

    def down(self) -> str:
        """Stop it; a line for the person who asked."""
        ...

    async def status(self) -> list[NodeStatus] | None:
        """Every node's state and health; None when no mesh answers."""
        ...

    async def running(self) -> MeshState:
        """The running mesh, or a MeshError that says how to start one."""
        ...

    def for_run(
        self,
        *,
        workload_overrides: dict[str, Any] | None = None,
        seed: int | None = None,
        base_port: int = 0,
        private: bool = False,
    ) -> AbstractAsyncContextManager[tuple[MeshState, bool]]:
        """The mesh an experiment runs on, and whether it was started for it.

        The running one when there is one and the run changes nothing; otherwise a
        mesh of its own, stopped afterwards: always with ``private`` (an ablation
        cell), or when the workload must differ (a defence switched off).
        """
        ...
