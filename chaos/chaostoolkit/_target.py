"""Which mesh (or proxy) an action acts on, from a Chaos Toolkit ``configuration``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from chaos.cli._common import backend
from chaos.faults import FaultContext
from chaos.mesh.attach import attach
from chaos.mesh.state import MeshState
from services.common.admin_token import token_from_env

T = TypeVar("T")
Configuration = Mapping[str, Any] | None

ACTOR = "chaostoolkit"


async def state_of(configuration: Configuration) -> MeshState:
    config = configuration or {}
    url = config.get("fallacies_proxy_url")
    if url:
        return await attach(str(url), token=token_from_env())
    state_dir = config.get("fallacies_state_dir")
    mesh = backend(bool(config.get("fallacies_compose")), Path(state_dir) if state_dir else None)
    return await mesh.running()


def with_context(configuration: Configuration, use: Callable[[FaultContext], Awaitable[T]]) -> T:
    """Run ``use`` on a fault context for the target, from Chaos Toolkit's sync world."""

    async def run() -> T:
        state = await state_of(configuration)
        async with state.session(30) as session:
            return await use(FaultContext(state, session, actor=ACTOR))

    return asyncio.run(run())
