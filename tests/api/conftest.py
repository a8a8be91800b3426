"""Fixtures for the API tests: an app behind aiohttp's test server, with a signing client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from services.api import ApiConfig, create_admin_app, create_app
from services.api.state import STATE
from tests.api.helpers import FakeClock, SignedClient

SMALL_CATALOG = 120


def config(**overrides: Any) -> ApiConfig:
    """A quick replica: a small catalog unless the test is about the catalog."""
    values: dict[str, Any] = {"replica_id": "api-1", "catalog_items": SMALL_CATALOG}
    values.update(overrides)
    return ApiConfig(**values)


class Harness:
    """One replica's public and admin apps on test servers, sharing one state."""

    def __init__(
        self,
        public: TestClient[Any, Any],
        admin: TestClient[Any, Any],
        registry: CollectorRegistry,
        clock: FakeClock,
    ) -> None:
        self.public = public
        self.admin = admin
        self.registry = registry
        self.clock = clock
        self.api = SignedClient(public.session, str(public.make_url("")), clock=clock)
        self.admin_api = SignedClient(admin.session, str(admin.make_url("")), clock=clock)

    @property
    def state(self) -> Any:
        return self.public.app[STATE]

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self.registry.get_sample_value(name, labels or {}) or 0.0


@pytest.fixture
async def make_harness() -> AsyncIterator[Callable[..., Any]]:
    clients: list[TestClient[Any, Any]] = []

    async def make(**overrides: Any) -> Harness:
        registry = CollectorRegistry()
        clock = FakeClock()
        app = create_app(config(**overrides), registry=registry, clock=clock)
        public = TestClient(TestServer(app))
        await public.start_server()
        clients.append(public)
        admin = TestClient(TestServer(create_admin_app(app[STATE])))
        await admin.start_server()
        clients.append(admin)
        return Harness(public, admin, registry, clock)

    yield make
    for client in reversed(clients):
        await client.close()


@pytest.fixture
async def harness(make_harness: Callable[..., Any]) -> Harness:
    result: Harness = await make_harness()
    return result
