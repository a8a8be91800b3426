"""The mesh a run uses: the one already up, or one started for the run and stopped after."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from chaos.mesh.lifecycle import running_mesh
from chaos.mesh.plan import build_plan
from chaos.mesh.state import MeshState
from chaos.mesh.supervisor import Supervisor


def merge_overrides(*layers: dict[str, Any] | None) -> dict[str, Any]:
    """Workload overrides of several experiments (and the CLI), later layers winning."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for section, values in (layer or {}).items():
            if isinstance(values, dict) and isinstance(merged.get(section), dict):
                merged[section] = {**merged[section], **values}
            else:
                merged[section] = values
    return merged


@asynccontextmanager
async def mesh_for_run(
    state_dir: Path,
    *,
    base_port: int,
    workload_overrides: dict[str, Any] | None = None,
    seed: int | None = None,
    private: bool = False,
) -> AsyncIterator[tuple[MeshState, bool]]:
    """Yield (state, started_here).

    A run that changes the workload (a negative control switching a defence off) gets
    a mesh of its own on free ports in a fresh state folder, so it never disturbs a
    mesh someone else is using. ``private`` asks for a mesh of its own in ``state_dir``
    on ``base_port`` (0: free ports) whatever the workload.
    """
    if not private and not workload_overrides:
        state = running_mesh(state_dir)
        if state is not None:
            yield state, False
            return
    directory = state_dir
    if workload_overrides and not private:
        base_port = 0
        directory = Path(tempfile.mkdtemp(prefix="fallacies-run-"))
    plan = build_plan(
        base_port=base_port,
        seed=seed,
        workload_overrides=workload_overrides,
    )
    supervisor = Supervisor(plan, directory)
    await supervisor.start()
    try:
        state = MeshState.read(directory)
        assert state is not None
        yield state, True
    finally:
        await supervisor.stop()
