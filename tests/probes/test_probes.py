"""Each probe against a real server or program: what passes, what fails and why, bad specs."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from chaos.probes import PROBES, ProbeSpecError, probe_from
from chaos.probes.command import CommandProbe
from chaos.probes.http import HttpProbe
from chaos.probes.promql import PromqlProbe


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """A small HTTP service; /slow takes 0.4 s, /promql answers like Prometheus' API."""

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="all good")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.4)
        return web.Response(text="late")

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=503, text="down")

    async def query(request: web.Request) -> web.Response:
        expr = request.query["query"]
        if expr == "bad(":
            return web.json_response(
                {"status": "error", "errorType": "bad_data", "error": "parse error"}, status=400
            )
        if expr == "nothing":
            return web.json_response(
                {"status": "success", "data": {"resultType": "vector", "result": []}}
            )
        values = [float(v) for v in expr.split(",")]
        result = [{"metric": {"i": str(i)}, "value": [0, str(v)]} for i, v in enumerate(values)]
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    async def query_range(request: web.Request) -> web.Response:
        assert float(request.query["end"]) - float(request.query["start"]) == pytest.approx(30)
        points = [[i, str(v)] for i, v in enumerate((0.0, 0.02, 0.3))]
        return web.json_response(
            {
                "status": "success",
                "data": {"resultType": "matrix", "result": [{"metric": {}, "values": points}]},
            }
        )

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/slow", slow)
    app.router.add_get("/broken", broken)
    app.router.add_get("/api/v1/query", query)
    app.router.add_get("/api/v1/query_range", query_range)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def measure(spec: dict[str, Any]) -> tuple[bool, float | None, str]:
    probe = probe_from(spec)
    async with aiohttp.ClientSession() as session:
        m = await probe.measure(session)
    return m.ok, m.value, m.detail


def test_the_registry_holds_the_three_kinds() -> None:
    assert set(PROBES) == {"http", "promql", "command"}
    assert PROBES["http"] is HttpProbe and PROBES["promql"] is PromqlProbe
    assert PROBES["command"] is CommandProbe


async def test_http_passes_on_status_latency_and_body(server: str) -> None:
    ok, took, detail = await measure(
        {"http": {"url": f"{server}/ok", "max_latency": "1s", "body_contains": "good"}}
    )
    assert ok and detail == "" and took is not None and 0 < took < 1


async def test_http_fails_and_says_why(server: str) -> None:
    assert await measure({"http": {"url": f"{server}/broken"}}) == (
        False,
        pytest.approx(0.0, abs=1.0),
        "status 503, wanted 200",
    )
    assert (await measure({"http": {"url": f"{server}/broken", "status": [200, 503]}}))[0]
    ok, took, detail = await measure({"http": {"url": f"{server}/slow", "max_latency": "100ms"}})
    assert not ok and took is not None and took >= 0.4 and "at most 0.1 s wanted" in detail
    ok, _, detail = await measure({"http": {"url": f"{server}/ok", "body_contains": "bad"}})
    assert (ok, detail) == (False, "the body lacks 'bad'")
    ok, took, detail = await measure({"http": {"url": f"{server}/slow", "timeout": "100ms"}})
    assert (ok, took, detail) == (False, None, "no answer in 0.1 s")


async def test_http_to_nothing_is_a_failure_not_an_exception() -> None:
    ok, _, detail = await measure({"http": {"url": "http://127.0.0.1:1/"}})
    assert not ok and "ClientConnectorError" in detail


async def test_promql_compares_every_series(server: str) -> None:
    base = {"url": server, "op": "<", "threshold": 0.5}
    assert await measure({"promql": {**base, "query": "0.1,0.2"}}) == (True, 0.2, "")
    ok, value, detail = await measure({"promql": {**base, "query": "0.1,0.7"}})
    assert (ok, value, detail) == (False, 0.7, "1 of 2 values fail, e.g. 0.7")
    assert await measure({"promql": {**base, "query": "nothing"}}) == (
        False,
        None,
        "the query returned no series",
    )
    ok, _, detail = await measure({"promql": {**base, "query": "bad("}})
    assert not ok and "parse error" in detail


async def test_promql_over_a_window_holds_at_every_step(server: str) -> None:
    spec = {"url": server, "query": "x", "window": "30s", "op": "<", "threshold": 0.1}
    ok, value, detail = await measure({"promql": spec})
    assert (ok, value) == (False, 0.3) and detail == "1 of 3 values fail, e.g. 0.3"
    assert (await measure({"promql": {**spec, "threshold": 1}}))[0]


async def test_command_exit_code_and_printed_number() -> None:
    python = sys.executable
    assert await measure({"command": {"run": [python, "-c", "pass"]}}) == (True, 0.0, "")
    ok, value, detail = await measure(
        {"command": {"run": [python, "-c", "import sys; sys.exit('gone')"]}}
    )
    assert (ok, value, detail) == (False, 1.0, "exit code 1: gone")
    printed = {"run": [python, "-c", "print('p99 is 0.25 s')"], "op": "<=", "threshold": 0.3}
    assert await measure({"command": printed}) == (True, 0.25, "")
    ok, value, detail = await measure({"command": {**printed, "threshold": 0.2}})
    assert (ok, value, detail) == (False, 0.25, "printed 0.25")
    slow = {"run": [python, "-c", "import time; time.sleep(5)"], "timeout": "200ms"}
    assert await measure({"command": slow}) == (False, None, "still running after 0.2 s (killed)")
    ok, _, detail = await measure({"command": {"run": "no-such-program-here"}})
    assert not ok and detail.startswith("cannot run 'no-such-program-here'")


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ({"http": {}}, "http.url", "is required"),
        ({"http": {"url": "ftp://x"}}, "http.url", "not an http:// or https:// URL"),
        ({"http": {"url": "http://x", "status": 99}}, "http.status", "not a status code"),
        ({"http": {"url": "http://x", "max_latency": "1x"}}, "http.max_latency", "duration"),
        ({"http": {"url": "http://x", "verb": "GET"}}, "http.verb", "unknown field"),
        ({"http": {"url": "http://x", "method": "FETCH"}}, "http.method", "not one of"),
        (
            {"promql": {"url": "http://p", "query": "up", "op": "=", "threshold": 1}},
            "promql.op",
            "not one of",
        ),
        (
            {"promql": {"url": "http://p", "query": " ", "op": "<", "threshold": 1}},
            "promql.query",
            "PromQL",
        ),
        ({"command": {"run": ""}}, "command.run", "is empty"),
        ({"command": {"run": "x", "op": ">"}}, "command.threshold", "is required"),
        ({"ping": {}}, "ping", "unknown probe; known: http, promql, command"),
        ({"http": {"url": "http://x"}, "promql": {}}, "", "one mapping"),
    ],
)
def test_a_bad_spec_names_its_field(spec: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ProbeSpecError) as caught:
        probe_from(spec)
    assert caught.value.field == field
    assert message in str(caught.value)
