"""The sampler against real HTTP servers on ephemeral ports: live, dead, slow and broken."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.aiohttp import make_aiohttp_handler

from chaos.signals.sampler import Sampler, parse_exposition
from chaos.signals.window import SeriesMap, increase, sel
from services.workload.metrics import WorkloadMetrics
from tests.signals.helpers import key

TIMEOUT_S = 0.3
"""Sampler timeout in these tests; the slow target sleeps well past it."""


def free_port() -> int:
    """A port nothing listens on: bound, read, closed (connection refused from then on)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Targets:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.workload = WorkloadMetrics(self.registry, replicas=("api-1", "api-2"))
        self.accept_encoding: list[str] = []
        self.urls: dict[str, str] = {}


@pytest.fixture
async def targets() -> AsyncIterator[Targets]:
    t = Targets()
    metrics = make_aiohttp_handler(t.registry)

    async def live(request: web.Request) -> web.StreamResponse:
        t.accept_encoding.append(request.headers.get("Accept-Encoding", ""))
        return await metrics(request)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="never\n")

    async def broken(request: web.Request) -> web.Response:
        return web.Response(text="<html>not metrics</html>\n")

    async def failing(request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    app = web.Application()
    app.router.add_get("/metrics", live)
    app.router.add_get("/slow", slow)
    app.router.add_get("/broken", broken)
    app.router.add_get("/500", failing)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    t.urls = {
        "workload": f"{base}/metrics",
        "dead": f"http://127.0.0.1:{free_port()}/metrics",
        "slow": f"{base}/slow",
        "broken": f"{base}/broken",
        "failing": f"{base}/500",
    }
    try:
        yield t
    finally:
        await runner.cleanup()


async def test_scrape_parses_live_targets_and_counts_failures(targets: Targets) -> None:
    targets.workload.journeys.labels("naive", "ok").inc(3)
    async with Sampler(targets.urls, timeout=TIMEOUT_S) as sampler:
        started = time.perf_counter()
        first = await sampler.scrape(0.0)
        elapsed = time.perf_counter() - started
        targets.workload.journeys.labels("naive", "ok").inc(2)
        second = await sampler.scrape(1.0)

    assert elapsed < TIMEOUT_S + 0.5, "targets are fetched concurrently, each bounded"
    assert first.t == 0.0
    assert first.values[key("fallacies_workload_journeys_total", client="naive", outcome="ok")] == 3
    assert increase([first, second], sel('fallacies_workload_journeys_total{client="naive"}')) == 2
    # Only the live node contributed; the others are counted, each once per round.
    assert {label for _, labels in first.values for name, label in labels if name == "node"} == {
        "workload"
    }
    assert isinstance(first.values, SeriesMap) and first.values.nodes == {"workload"}
    assert sampler.failures == {"workload": 0, "dead": 2, "slow": 2, "broken": 2, "failing": 2}
    assert "ClientConnectorError" in sampler.last_error["dead"]
    assert "TimeoutError" in sampler.last_error["slow"]
    assert "ValueError" in sampler.last_error["broken"]
    assert sampler.last_error["failing"] == "ValueError: HTTP 500"
    assert sampler.scrapes == 2
    assert sampler.parse_seconds["workload"] > 0
    assert targets.accept_encoding == ["identity", "identity"], "no gzip on loopback"


async def test_shared_session_is_left_open(targets: Targets) -> None:
    async with aiohttp.ClientSession() as session:
        sampler = Sampler({"workload": targets.urls["workload"]}, session=session)
        snapshot = await sampler.scrape(0.5)
        await sampler.close()
        assert not session.closed
        assert snapshot.values, "the shared session served the scrape"


async def test_own_session_is_closed_and_reopened_on_use(targets: Targets) -> None:
    sampler = Sampler({"workload": targets.urls["workload"]})
    await sampler.scrape(0.0)
    await sampler.close()
    assert (await sampler.scrape(1.0)).values
    await sampler.close()


def test_parse_keeps_raw_names_drops_created_and_adds_node() -> None:
    registry = CollectorRegistry()
    Counter("jobs_total", "Jobs.", ["node"], registry=registry).labels("inner").inc(4)
    Gauge("things_created", "A gauge that merely ends in _created.", registry=registry).set(2)
    metrics = WorkloadMetrics(registry)
    metrics.journey_duration.labels("naive").observe(0.3)

    values = parse_exposition(generate_latest(registry).decode(), "w1")

    names = {name for name, _ in values}
    assert key("jobs_total", node="w1", exported_node="inner") in values
    assert values[key("things_created", node="w1")] == 2
    assert not any(n.endswith("_created") and n != "things_created" for n in names)
    assert values[
        key("fallacies_workload_journey_duration_seconds_bucket", "w1", client="naive", le="0.5")
    ]
    assert (
        values[key("fallacies_workload_journey_duration_seconds_count", "w1", client="naive")] == 1
    )
    assert (
        values[key("fallacies_workload_journey_duration_seconds_sum", "w1", client="naive")] == 0.3
    )
    assert all(labels == tuple(sorted(labels)) for _, labels in values)


def test_parse_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_exposition("<html>\n", "x")
