"""The same link faults when real Toxiproxy carries the TCP links: the janitor keeps the TTL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from chaos.faults import FAULTS, FaultContext
from chaos.mesh.errors import LinkError
from tests.conftest import require_tool
from tests.faults.conftest import (
    check_move,
    eventually,
    janitor_ids,
    proxy_of,
    start_mesh,
    step,
    toxics_on,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.tool("toxiproxy-server")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ctx(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FaultContext]:
    binary = require_tool("toxiproxy-server")
    supervisor, state = await start_mesh(
        tmp_path_factory, tcp_proxy="toxiproxy", toxiproxy_binary=binary
    )
    try:
        assert state.links["api-1"].proxy == "toxiproxy"
        async with aiohttp.ClientSession() as session:
            yield FaultContext(state, session, actor="tests/faults")
    finally:
        await supervisor.stop()


async def test_toxic_files_a_janitor_job_and_revert_cancels_it(ctx: FaultContext) -> None:
    fault_step = step("latency", "api-1", latency=100, stream="both")
    applied = await FAULTS["latency"].apply(ctx, fault_step, 60)
    jobs = {t["janitor"] for t in applied["toxics"]}
    assert None not in jobs and jobs <= await janitor_ids(ctx)
    assert len(await toxics_on(ctx, "api-1")) == 2
    await FAULTS["latency"].revert(ctx, fault_step, applied)
    assert await toxics_on(ctx, "api-1") == {}
    assert not jobs & await janitor_ids(ctx)


async def test_janitor_removes_an_expired_toxic(ctx: FaultContext) -> None:
    await FAULTS["bandwidth"].apply(ctx, step("bandwidth", "api-2", rate=10), 1)
    assert len(await toxics_on(ctx, "api-2")) == 1

    async def gone() -> bool:
        return await toxics_on(ctx, "api-2") == {}

    await eventually(gone, timeout=3)


async def test_janitor_brings_a_link_back(ctx: FaultContext) -> None:
    await FAULTS["link_down"].apply(ctx, step("link_down", "repl-1-2"), 1)
    assert not (await proxy_of(ctx, "repl-1-2")).enabled

    async def up() -> bool:
        return bool((await proxy_of(ctx, "repl-1-2")).enabled)

    await eventually(up, timeout=3)


async def test_redirect_reverted_by_hand_and_by_the_janitor(ctx: FaultContext) -> None:
    planned = ctx.state.links["api-1"].upstream
    rogue = ctx.state.nodes["rogue"].listen["http"]
    fault_step = step("redirect", "api-1")
    applied = await FAULTS["redirect"].apply(ctx, fault_step, 60)
    assert (await proxy_of(ctx, "api-1")).upstream == rogue
    await FAULTS["redirect"].revert(ctx, fault_step, applied)
    assert (await proxy_of(ctx, "api-1")).upstream == planned
    assert applied["janitor"] not in await janitor_ids(ctx)

    await FAULTS["redirect"].apply(ctx, fault_step, 1)

    async def back() -> bool:
        return bool((await proxy_of(ctx, "api-1")).upstream == planned)

    await eventually(back, timeout=3)


@pytest.mark.parametrize(
    ("kind", "attributes"),
    [("partition", {}), ("http_status", {"status": 503}), ("http_header", {"name": "X-A"})],
)
async def test_extension_toxic_is_refused_on_toxiproxy(
    ctx: FaultContext, kind: str, attributes: dict[str, object]
) -> None:
    with pytest.raises(LinkError, match="extension of the project's proxy"):
        await FAULTS[kind].apply(ctx, step(kind, "api-1", **attributes), 5)
    assert await toxics_on(ctx, "api-1") == {}


async def test_an_experiment_step_says_why_this_mesh_cannot_carry_it(ctx: FaultContext) -> None:
    """A run on a mesh whose TCP links Toxiproxy carries goes on without HTTP faults, and
    says so in its journal, rather than failing on a fault the mesh cannot have."""
    reason = FAULTS["http_status"].unsupported(ctx, step("http_status", "api-1", status=503))
    assert reason == "http_status needs the project's proxy; api-1 is on Toxiproxy here"
    assert FAULTS["latency"].unsupported(ctx, step("latency", "api-1", latency=10)) is None


async def test_a_moved_link_comes_back_by_the_revert(ctx: FaultContext) -> None:
    await check_move(ctx, 60)


async def test_the_janitor_moves_a_link_back(ctx: FaultContext) -> None:
    await check_move(ctx, 2)
