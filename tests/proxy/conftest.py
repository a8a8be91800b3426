from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from chaos.proxy import ProxyServer
from tests.proxy.helpers import Api, Udp, echo_handler, tcp_server

SEED = 20240601


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
async def server(registry: CollectorRegistry) -> AsyncIterator[ProxyServer]:
    async with ProxyServer(api_port=0, seed=SEED, registry=registry) as running:
        yield running


@pytest.fixture
async def api(server: ProxyServer) -> AsyncIterator[Api]:
    headers = {"X-Fallacies-Actor": "pytest"}
    async with aiohttp.ClientSession(base_url=server.api_url, headers=headers) as session:
        yield Api(session)


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    server, port = await tcp_server(echo_handler)
    async with server:
        yield port


@pytest.fixture
async def udp() -> AsyncIterator[Udp]:
    made = Udp()
    try:
        yield made
    finally:
        made.close()
