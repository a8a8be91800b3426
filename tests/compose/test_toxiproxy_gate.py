"""The token gate in front of Toxiproxy's API, against both real Toxiproxy and ours."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from chaos.compose.toxiproxy_gate import PROBE_INTERVAL_S, ToxiproxyGate
from chaos.toxiproxy import Toxiproxy, ToxiproxyError
from services.common.admin_token import HEADER
from tests.contract.conftest import project_proxy, real_toxiproxy

TOKEN = "gate-test-token"


@pytest.fixture(params=["toxiproxy", "fallacies"])
async def gate(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    async with aiohttp.ClientSession() as http:
        server = real_toxiproxy(http, tmp_path) if request.param == "toxiproxy" else project_proxy()
        async with server as upstream:
            service = ToxiproxyGate(upstream=upstream, port=0, admin_token=TOKEN)
            await service.start()
            try:
                yield service.endpoints["api"]
            finally:
                await service.stop()


async def test_the_toxiproxy_client_works_through_the_gate_with_the_token(gate: str) -> None:
    async with Toxiproxy(gate, headers={HEADER: TOKEN}, actor="gate-test") as client:
        assert await client.version()
        await client.create_proxy("gated", listen="127.0.0.1:0", upstream="127.0.0.1:9")
        await client.add_toxic("gated", "latency", attributes={"latency": 5}, name="slow")
        proxy = (await client.proxies())["gated"]
        assert [t.name for t in proxy.toxics] == ["slow"]
        with pytest.raises(ToxiproxyError) as refused:
            await client.add_toxic("gated", "no-such-toxic")
        assert refused.value.status == 400
        await client.delete_proxy("gated")
        assert "gated" not in await client.proxies()


async def test_without_the_token_nothing_reaches_toxiproxy(gate: str) -> None:
    async with Toxiproxy(gate, headers={HEADER: "guess"}) as client:
        with pytest.raises(ToxiproxyError) as refused:
            await client.create_proxy("sneaky", listen="127.0.0.1:0", upstream="127.0.0.1:9")
        assert refused.value.status == 401
        with pytest.raises(ToxiproxyError):
            await client.proxies()
        assert await client.version()
    async with Toxiproxy(gate, headers={HEADER: TOKEN}) as client:
        assert "sneaky" not in await client.proxies()


async def test_a_browser_is_still_refused_by_toxiproxy_behind_the_gate(gate: str) -> None:
    """Toxiproxy's CSRF guard reads User-Agent: the gate must pass it through."""
    headers = {HEADER: TOKEN, "User-Agent": "Mozilla/5.0"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gate}/proxies", headers=headers) as response:
            assert response.status == 403


async def test_the_gate_leaves_once_toxiproxy_has_been_silent_for_exit_after() -> None:
    """So the restart policy puts it back into a restarted Toxiproxy's new namespace."""
    from chaos.proxy import ProxyServer

    upstream = ProxyServer(api_port=0)
    await upstream.start()
    lost = asyncio.Event()
    gate = ToxiproxyGate(
        upstream=upstream.api_url, port=0, exit_after_s=1.0, on_upstream_lost=lost.set
    )
    await gate.start()
    try:
        with pytest.raises(TimeoutError):  # alive upstream: the gate stays
            await asyncio.wait_for(lost.wait(), 2.0)
        await upstream.stop()
        gone = time.monotonic()
        await asyncio.wait_for(lost.wait(), 10)
        # Silent since its last answer, which came up to one probe interval before the stop.
        assert time.monotonic() - gone >= 1.0 - PROBE_INTERVAL_S - 0.05
    finally:
        await gate.stop()
        await upstream.stop()
