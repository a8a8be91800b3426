"""One embedded mesh and its console for a whole test module, as `fallacies up` serves them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from chaos.console.server import ConsoleServer
from chaos.embedded.backend import EmbeddedBackend
from chaos.embedded.plan import build_plan
from chaos.embedded.supervisor import Supervisor
from chaos.mesh.state import MeshState
from services.common.admin_token import HEADER


@dataclass
class Console:
    server: ConsoleServer
    state: MeshState
    supervisor: Supervisor

    @property
    def url(self) -> str:
        return self.server.url.rstrip("/")

    @property
    def headers(self) -> dict[str, str]:
        """What the page sends on a write: the token, JSON, its own origin."""
        token = self.server.token
        return {HEADER: token} if token else {}

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            async with session.request(
                method, self.url + path, json=body, headers={**self.headers, **(headers or {})}
            ) as response:
                return response.status, await response.json(content_type=None)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Console]:
    root = tmp_path_factory.mktemp("console")
    supervisor = Supervisor(build_plan(base_port=0, seed=7), root / "state")
    await supervisor.start()
    try:
        state = MeshState.read(root / "state")
        assert state is not None
        server = ConsoleServer(
            EmbeddedBackend(root / "state"), state, port=0, out_root=root / "runs"
        )
        await server.start()
        try:
            yield Console(server, state, supervisor)
        finally:
            await server.stop()
    finally:
        await supervisor.stop()


async def next_snapshot(console: Console, after: float = 0.0) -> dict[str, Any]:
    """The first snapshot the hub takes after unix time ``after``."""
    from tests.polling import eventually

    hub = console.server.hub

    def fresh() -> dict[str, Any] | None:
        latest = hub.latest
        return latest if latest is not None and latest["t"] > after else None

    found: dict[str, Any] = await eventually(fresh, timeout=10.0, what="a fresh snapshot")
    return found
