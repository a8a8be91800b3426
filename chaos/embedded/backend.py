"""The embedded mesh as a ``MeshBackend``: every node a local process, no Docker."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from chaos.embedded.lifecycle import run_foreground, running_mesh, shut_down, start_detached
from chaos.embedded.plan import build_plan
from chaos.embedded.prometheus import with_prometheus
from chaos.embedded.supervisor import Supervisor
from chaos.mesh.backend import SCALE_IS_SWARM, Ready, UpOptions
from chaos.mesh.control import fetch_status
from chaos.mesh.errors import MeshError, UsageError
from chaos.mesh.model import DEFAULT_SCALE, NodeStatus
from chaos.mesh.state import MeshState

__all__ = ["EmbeddedBackend"]


class EmbeddedBackend:
    name = "embedded"

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def up(self, options: UpOptions, ready: Ready) -> MeshState | None:
        if options.build or options.grafana or options.env_file is not None:
            raise UsageError("--build, --grafana and --env-file are for the compose mesh")
        if options.scale != DEFAULT_SCALE:
            raise UsageError(SCALE_IS_SWARM)
        if options.toxiproxy and shutil.which("toxiproxy-server") is None:
            raise UsageError("--toxiproxy needs toxiproxy-server on PATH (see README: Toxiproxy)")
        if options.detach:
            args = ["--base-port", str(options.base_port)]
            args += ["--toxiproxy"] if options.toxiproxy else []
            args += ["--seed", str(options.seed)] if options.seed is not None else []
            args += [] if options.prometheus else ["--no-prometheus"]
            args += ["--client", options.client] if options.client else []
            args += ["--no-console"]  # the detaching command serves it itself
            return start_detached(args, self.state_dir)
        try:
            plan = build_plan(
                base_port=options.base_port,
                tcp_proxy="toxiproxy" if options.toxiproxy else "fallacies",
                seed=options.seed,
                workload_overrides={"own": {"spec": options.client}} if options.client else None,
            )
            if options.prometheus:
                plan = with_prometheus(plan, self.state_dir / "run")
        except ValueError as exc:
            raise UsageError(str(exc)) from None

        def started(supervisor: Supervisor) -> None:
            ready(supervisor.plan, supervisor.started_in_s)

        asyncio.run(run_foreground(plan, self.state_dir, started))
        return None

    def down(self) -> str:
        forced = asyncio.run(shut_down(self.state_dir))
        if forced:
            return f"mesh stopped; had to kill pids {', '.join(map(str, forced))}"
        return "mesh stopped"

    async def status(self) -> list[NodeStatus] | None:
        state = running_mesh(self.state_dir)
        return None if state is None else await fetch_status(state)

    async def running(self) -> MeshState:
        state = running_mesh(self.state_dir)
        if state is None:
            raise MeshError("no mesh is running (start one with `fallacies up`)")
        return state

    def for_run(
        self,
        *,
        workload_overrides: dict[str, Any] | None = None,
        seed: int | None = None,
        base_port: int = 0,
        private: bool = False,
    ) -> AbstractAsyncContextManager[tuple[MeshState, bool]]:
        return self._for_run(workload_overrides, seed, base_port, private)

    @asynccontextmanager
    async def _for_run(
        self,
        overrides: dict[str, Any] | None,
        seed: int | None,
        base_port: int,
        private: bool,
    ) -> AsyncIterator[tuple[MeshState, bool]]:
        own = private or bool(overrides)
        if not own:
            state = running_mesh(self.state_dir)
            if state is not None:
                yield state, False
                return
        # A mesh of its own never shares the state folder (nor, side by side, ports).
        directory = Path(tempfile.mkdtemp(prefix="fallacies-run-")) if own else self.state_dir
        plan = build_plan(
            base_port=0 if own and not private else base_port,
            seed=seed,
            workload_overrides=overrides,
        )
        supervisor = Supervisor(plan, directory)
        await supervisor.start()
        try:
            state = MeshState.read(directory)
            assert state is not None
            yield state, True
        finally:
            await supervisor.stop()
            if own:
                shutil.rmtree(directory, ignore_errors=True)
