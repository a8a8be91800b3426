"""The client's extensions, end to end against the project's proxy (real Toxiproxy has none).

``ttl`` reverts a fault without the runner, ``protocol`` makes UDP links, and the
``actor`` ends up in the audit log: the "one administrator" fallacy, made visible.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from chaos.toxiproxy import Toxiproxy, ToxiproxyError

DEADLINE = 5.0
POLL = 0.02  # seconds between polls of the API


@pytest.fixture
async def proxy_url() -> AsyncIterator[str]:
    from chaos.proxy import ProxyServer

    async with ProxyServer(api_host="127.0.0.1", api_port=0, seed=1) as server:
        yield server.endpoints["api"]


async def test_actor_is_recorded_in_the_audit_log(proxy_url: str) -> None:
    async with Toxiproxy(proxy_url, actor="experiment-2") as tp:
        await tp.create_proxy("api-1", "127.0.0.1:0", "127.0.0.1:9")
        await tp.add_toxic("api-1", "latency", attributes={"latency": 10})
        entries = await tp.audit()
        assert [(e.action, e.actor, e.proxy, e.toxic) for e in entries] == [
            ("proxy.create", "experiment-2", "api-1", None),
            ("toxic.create", "experiment-2", "api-1", "latency_downstream"),
        ]
        assert entries[0].seq < entries[1].seq and entries[0].time.tzinfo is not None
        assert [e.action for e in await tp.audit(since=entries[0].seq)] == ["toxic.create"]


async def test_toxic_ttl_removes_the_toxic_by_itself(proxy_url: str) -> None:
    async with Toxiproxy(proxy_url, actor="runner") as tp:
        await tp.create_proxy("api-1", "127.0.0.1:0", "127.0.0.1:9")
        toxic = await tp.add_toxic("api-1", "latency", attributes={"latency": 10}, ttl=0.2)
        assert toxic.ttl == 0.2 and toxic.expires_at is not None
        stop_at = time.monotonic() + DEADLINE
        while await tp.toxics("api-1"):
            assert time.monotonic() < stop_at, "toxic with ttl 0.2 s still there"
            await asyncio.sleep(POLL)
        assert (await tp.audit())[-1].actor == "ttl"


async def test_disable_with_ttl_comes_back(proxy_url: str) -> None:
    async with Toxiproxy(proxy_url) as tp:
        await tp.create_proxy("api-1", "127.0.0.1:0", "127.0.0.1:9")
        down = await tp.disable("api-1", ttl=0.2)
        assert (down.enabled, down.ttl) == (False, 0.2)
        stop_at = time.monotonic() + DEADLINE
        while not (await tp.proxy("api-1")).enabled:
            assert time.monotonic() < stop_at, "proxy disabled with ttl 0.2 s still down"
            await asyncio.sleep(POLL)
        assert (await tp.proxy("api-1")).ttl is None


async def test_udp_proxy(proxy_url: str) -> None:
    async with Toxiproxy(proxy_url) as tp:
        created = await tp.create_proxy("dns", "127.0.0.1:0", "127.0.0.1:53", protocol="udp")
        assert (created.protocol, created.listen_port != 0) == ("udp", True)
        assert (await tp.proxies())["dns"].protocol == "udp"
        with pytest.raises(ToxiproxyError) as caught:
            await tp.add_toxic("dns", "slicer", attributes={"average_size": 10})
        assert caught.value.status == 400
