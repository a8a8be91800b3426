"""The console's numbers at a larger Swarm stack's scale: every workload pair's clients,
summed, and nothing at all while one of them does not answer (a silent workload must
not read as a client doing less)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from chaos.console.hub import Hub
from chaos.console.numbers import numbers
from chaos.mesh.model import workloads
from chaos.mesh.state import MeshState, NodeInfo
from services.workload.metrics import WorkloadMetrics


class Workload:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.metrics = WorkloadMetrics(self.registry, replicas=("api-1", "api-2"))
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", make_aiohttp_handler(self.registry))
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/metrics"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def finish(self, client: str, count: int) -> None:
        self.metrics.journeys.labels(client=client, outcome="ok").inc(count)


@pytest.fixture
async def pairs() -> AsyncIterator[tuple[Workload, Workload]]:
    first, second = Workload(), Workload()
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await first.stop()
        await second.stop()


def test_the_workload_nodes_of_any_scale_are_found_in_order() -> None:
    names = ["api-1", "workload-10", "workload-2", "proxy", "workload", "workloads", "workload-1"]
    assert workloads(names) == ("workload", "workload-2", "workload-10")


async def test_every_workloads_clients_count_and_a_silent_one_shows_nothing(
    pairs: tuple[Workload, Workload],
) -> None:
    first, second = pairs
    state = MeshState(
        supervisor_pid=0,
        control_url="http://127.0.0.1:9/",
        nodes={
            "workload": NodeInfo("workload", {}, "", metrics_url=first.url),
            "workload-2": NodeInfo("workload", {}, "", metrics_url=second.url),
        },
    )
    hub = Hub(state, backend="swarm")
    async with aiohttp.ClientSession() as session:
        hub._session = session
        first.finish("naive", 3)
        before = await hub._scrape(state, 1.0)
        first.finish("naive", 4)
        second.finish("naive", 5)
        after = await hub._scrape(state, 2.0)
        assert before is not None and after is not None
        assert numbers([before, after], "naive")["journeys"] == 7 + 5  # finished, all told
        await second.stop()
        assert await hub._scrape(state, 3.0) is None
