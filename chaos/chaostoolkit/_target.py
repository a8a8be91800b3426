"""Which mesh (or proxy) an action acts on, from a Chaos Toolkit ``configuration``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from chaos.cli._common import target_state
from chaos.faults import FaultContext
from chaos.mesh.state import MeshState

T = TypeVar("T")
Configuration = Mapping[str, Any] | None

ACTOR = "chaostoolkit"


async def state_of(configuration: Configuration) -> MeshState:
    """The target the CLI's ``--proxy`` / ``--compose`` / ``--state-dir`` would pick."""
    config = configuration or {}
    url = config.get("fallacies_proxy_url")
    state_dir = config.get("fallacies_state_dir")
    return await target_state(
        bool(config.get("fallacies_compose")),
        Path(state_dir) if state_dir else None,
        str(url) if url else None,
    )


def with_context(configuration: Configuration, use: Callable[[FaultContext], Awaitable[T]]) -> T:
    """Run ``use`` on a fault context for the target, from Chaos Toolkit's sync world."""

    async def run() -> T:
        state = await state_of(configuration)
        async with state.session(30) as session:
            return await use(FaultContext(state, session, actor=ACTOR))

    return asyncio.run(run())
