"""The Swarm stack as a ``MeshBackend``: every node a task, Toxiproxy for TCP.

A run on it is a run on the compose mesh's terms (an existing mesh, fixed configs), so
only the lifecycle differs from ``ComposeBackend``.
"""

from __future__ import annotations

from chaos.compose.backend import ComposeBackend
from chaos.mesh.backend import Ready, UpOptions
from chaos.mesh.errors import UsageError
from chaos.mesh.model import NodeStatus
from chaos.mesh.state import MeshState
from chaos.swarm import lifecycle

__all__ = ["SwarmBackend"]


class SwarmBackend(ComposeBackend):
    name = "swarm"

    def up(self, options: UpOptions, ready: Ready) -> MeshState | None:
        if options.toxiproxy or options.seed is not None or not options.prometheus:
            raise UsageError(
                "--toxiproxy, --seed and --no-prometheus are for the embedded mesh: the "
                "Swarm stack always carries TCP on Toxiproxy and runs Prometheus"
            )
        if options.grafana or options.build:
            raise UsageError(
                "--grafana and --build are for the compose mesh: build the images with "
                "compose/build-images.sh first"
            )
        if not options.detach:
            raise UsageError(
                "the Swarm stack runs detached: give --detach (`fallacies down --swarm` ends it)"
            )
        return lifecycle.up(
            env_file=options.env_file, state_dir=self.state_dir, scale=options.scale
        )

    def down(self) -> str:
        lifecycle.down(state_dir=self.state_dir)
        return "Swarm stack removed"

    async def status(self) -> list[NodeStatus] | None:
        return await lifecycle.status(self.state_dir)

    async def running(self) -> MeshState:
        return await lifecycle.require_running(self.state_dir)
