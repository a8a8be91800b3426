"""A real embedded mesh per test module, and helpers to look at what a fault did.

Starting a mesh takes about two seconds, so each module shares one (module-scoped
fixtures on a module-scoped loop); every test leaves the mesh as it found it, and
the fixture checks that nothing it can see was left behind.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from chaos.embedded.plan import build_plan
from chaos.embedded.supervisor import Supervisor
from chaos.experiment.model import FaultStep
from chaos.faults import FAULTS, FaultContext, validate_step
from chaos.mesh.state import MeshState
from chaos.toxiproxy import Toxiproxy
from tests import polling

POLL_S = 0.05


def step(kind: str, target: str, **attributes: Any) -> FaultStep:
    """A validated step, as the loader would hand it to the runner."""
    made = FaultStep(kind=kind, target=target, at_s=0, duration_s=5, attributes=attributes)
    validate_step(made)
    return made


eventually = functools.partial(polling.eventually, timeout=5.0, interval=POLL_S)
"""Poll ``check`` until it returns something truthy; fail at the deadline."""


async def get_json(ctx: FaultContext, url: str, **headers: str) -> Any:
    async with ctx.session.get(url, headers=headers) as response:
        if response.status == 404:
            return None
        assert response.status == 200, await response.text()
        return await response.json()


async def janitor_ids(ctx: FaultContext) -> set[str]:
    return {job["id"] for job in await get_json(ctx, f"{ctx.state.control_url}/janitor")}


async def toxics_on(ctx: FaultContext, link: str) -> dict[str, dict[str, Any]]:
    """``{name: {type, stream, attributes}}`` of the link's toxics, as the proxy says."""
    api = str(ctx.state.links[link].api)
    found = await Toxiproxy(api, session=ctx.session).toxics(link)
    return {
        t.name: {"type": t.type, "stream": t.stream, "attributes": dict(t.attributes)}
        for t in found
    }


async def proxy_of(ctx: FaultContext, link: str) -> Any:
    api = str(ctx.state.links[link].api)
    return await Toxiproxy(api, session=ctx.session).proxy(link)


async def start_mesh(
    tmp_path_factory: pytest.TempPathFactory, **plan: Any
) -> tuple[Supervisor, MeshState]:
    state_dir = tmp_path_factory.mktemp("mesh")
    supervisor = Supervisor(build_plan(base_port=0, seed=5, **plan), state_dir)
    await supervisor.start()
    state = MeshState.read(state_dir)
    assert state is not None
    return supervisor, state


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def mesh(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MeshState]:
    supervisor, state = await start_mesh(tmp_path_factory)
    try:
        yield state
    finally:
        await supervisor.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ctx(mesh: MeshState) -> AsyncIterator[FaultContext]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield FaultContext(mesh, session, actor="tests/faults")


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


async def srv_ports(ctx: FaultContext) -> dict[str, int]:
    """``_api._tcp`` SRV as {node: port}."""
    dns = ctx.state.nodes["dns"].admin_url
    srv = await get_json(ctx, f"{dns}/records/_api._tcp.mesh.test./SRV")
    return {str(v["target"]).split(".")[0]: int(v["port"]) for v in srv["values"]}


async def refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    return False


async def check_move(ctx: FaultContext, ttl_s: float) -> None:
    """``move api-2`` (alone): a fresh port carries it, the old one refuses, DNS lists only
    the new one; then back, by the revert (``ttl_s`` long) or by the TTL (short)."""
    planned = port_of(str(ctx.state.links["api-2"].listen))
    before = await srv_ports(ctx)
    fault_step = step("move", "api-2", alone=True)
    applied = await FAULTS["move"].apply(ctx, fault_step, ttl_s)
    moved = port_of((await proxy_of(ctx, "api-2")).listen)
    assert moved != planned and applied["port"] == moved
    assert await srv_ports(ctx) == {"api-2": moved}
    assert await refused(planned)
    _, writer = await asyncio.open_connection("127.0.0.1", moved)
    writer.close()
    if ttl_s > 10:
        await FAULTS["move"].revert(ctx, fault_step, applied)
    else:
        await eventually(lambda: srv_ports_are(ctx, before), timeout=ttl_s + 5)

    async def back() -> bool:
        return port_of((await proxy_of(ctx, "api-2")).listen) == planned

    await eventually(back, timeout=ttl_s + 5)
    assert await srv_ports(ctx) == before
    assert not {applied["dns_janitor"], applied["link_janitor"]} & await janitor_ids(ctx)


async def srv_ports_are(ctx: FaultContext, expected: dict[str, int]) -> bool:
    return await srv_ports(ctx) == expected
