"""The Docker Compose mesh as a ``MeshBackend``: every node a container, Toxiproxy for TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from chaos.compose import lifecycle
from chaos.mesh.backend import SCALE_IS_SWARM, Ready, UpOptions
from chaos.mesh.errors import UsageError
from chaos.mesh.model import DEFAULT_SCALE, NodeStatus
from chaos.mesh.state import MeshState

__all__ = ["ComposeBackend"]


class ComposeBackend:
    name = "compose"

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def up(self, options: UpOptions, ready: Ready) -> MeshState | None:
        if options.toxiproxy or options.seed is not None or not options.prometheus:
            raise UsageError(
                "--toxiproxy, --seed and --no-prometheus are for the embedded mesh: the "
                "compose mesh always carries TCP on Toxiproxy and runs Prometheus"
            )
        if options.scale != DEFAULT_SCALE:
            raise UsageError(SCALE_IS_SWARM)
        state = lifecycle.up(
            detach=options.detach,
            build=options.build,
            env_file=options.env_file,
            profiles=("grafana",) if options.grafana else (),
            state_dir=self.state_dir,
        )
        # In the foreground, docker compose shows the containers' logs until Ctrl-C.
        return state if options.detach else None

    def down(self) -> str:
        lifecycle.down(state_dir=self.state_dir)
        return "compose mesh stopped"

    async def status(self) -> list[NodeStatus] | None:
        return await lifecycle.status(self.state_dir)

    async def running(self) -> MeshState:
        return await lifecycle.require_running(self.state_dir)

    def for_run(
        self,
        *,
        workload_overrides: dict[str, Any] | None = None,
        seed: int | None = None,
        base_port: int = 0,
        private: bool = False,
    ) -> AbstractAsyncContextManager[tuple[MeshState, bool]]:
        if workload_overrides or private:
            raise UsageError(
                "workload overrides and meshes of their own need the embedded mesh "
                f"(the {self.name} mesh's configs are fixed)"
            )
        return self._existing()

    @asynccontextmanager
    async def _existing(self) -> AsyncIterator[tuple[MeshState, bool]]:
        yield await self.running(), False
