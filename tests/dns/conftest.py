from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from services.dns import DNSServer, Zone


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def zone() -> Zone:
    return Zone.default()


@pytest.fixture
async def server(zone: Zone, registry: CollectorRegistry) -> AsyncIterator[DNSServer]:
    async with DNSServer(port=0, admin_port=0, zone=zone, registry=registry) as running:
        yield running


@pytest.fixture
def port(server: DNSServer) -> int:
    return int(server.endpoints["udp"].rsplit(":", 1)[1])
