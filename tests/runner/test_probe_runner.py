"""A run on one's own services, in process: a service behind a link of one's own, probes
judged per window, a stop condition that ends the run, and no fault left behind."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from chaos.loader import load_experiment
from chaos.runner.probing import ProbeRunner
from chaos.standalone import own_links
from chaos.toxiproxy import Toxiproxy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def upstream() -> AsyncIterator[int]:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await runner.cleanup()


def experiment(tmp_path: Path, port: int, extra: str = "") -> Path:
    url = f"http://127.0.0.1:{port}/"
    path = tmp_path / "exp.yaml"
    path.write_text(
        f"""\
title: a slow link
warmup_s: 2
observe_after_s: 3
settle_s: 0.5
recover_s: 1
steady_state:
  - probe: {{http: {{url: "{url}", max_latency: 200ms, body_contains: hello}}}}
    description: fast
method:
  - {{fault: latency, target: svc, duration: 3s, attributes: {{latency: 400}}}}
expectations:
  - phase: during
    probe: {{http: {{url: "{url}", max_latency: 2s}}}}
    description: answers within 2 s
  - phase: during
    probe: {{http: {{url: "{url}", max_latency: 200ms}}}}
    description: answers within 200 ms
{extra}"""
    )
    return path


async def toxics_left(api: str) -> int:
    async with Toxiproxy(api, actor="test") as client:
        return len(await client.toxics("svc"))


async def test_probes_are_judged_per_window_and_the_fault_is_reverted(
    tmp_path: Path, upstream: int
) -> None:
    listen = free_port()
    link = {"name": "svc", "listen": f"127.0.0.1:{listen}", "upstream": f"127.0.0.1:{upstream}"}
    exp = load_experiment(experiment(tmp_path, listen), links={"svc": "tcp"})
    async with own_links([link], proxy_url=None) as (state, started):
        assert started and set(state.links) == {"svc"}
        journal = await ProbeRunner(state, out_dir=tmp_path).run_one(exp)
        assert await toxics_left(state.links["svc"].api) == 0
    assert journal.status == "failed", journal.error
    verdicts = {(c.phase, c.description): c for c in journal.steady_state + journal.expectations}
    assert verdicts["before", "fast"].passed and verdicts["after", "fast"].passed
    assert verdicts["during", "answers within 2 s"].passed
    slow = verdicts["during", "answers within 200 ms"]
    assert not slow.passed and slow.observed == 0.0
    assert "at most 0.2 s wanted" in slow.detail
    assert [f.reverted for f in journal.faults] == [True]
    assert (tmp_path / "a-slow-link.json").is_file() or (tmp_path / "exp.json").is_file()


async def test_a_stop_condition_ends_the_run_and_reverts(tmp_path: Path, upstream: int) -> None:
    listen = free_port()
    link = {"name": "svc", "listen": f"127.0.0.1:{listen}", "upstream": f"127.0.0.1:{upstream}"}
    stop = f"""\
stop_when:
  - probe: {{http: {{url: "http://127.0.0.1:{listen}/", status: 200}}}}
    description: the service still answers
"""
    exp = load_experiment(experiment(tmp_path, listen, stop), links={"svc": "tcp"})
    async with own_links([link], proxy_url=None) as (state, _):
        journal = await ProbeRunner(state).run_one(exp)
        assert await toxics_left(state.links["svc"].api) == 0
    assert journal.status == "aborted"
    assert (
        journal.error is not None
        and "the stop condition 'the service still answers' was met" in (journal.error)
    )
    assert journal.faults[0].reverted
    assert journal.duration_s < 4.5, "stopped at the first sample after the fault began"


async def test_links_are_created_on_a_running_proxy_and_removed_after(upstream: int) -> None:
    """A links file naming a running proxy: the run adds what is missing, and only that."""
    listen = free_port()
    link = {"name": "svc", "listen": f"127.0.0.1:{listen}", "upstream": f"127.0.0.1:{upstream}"}
    async with own_links([], proxy_url=None) as (host, _):
        api = next(iter(host.links.values()), None)
        assert api is None
    from chaos.proxy import ProxyServer

    server = ProxyServer(api_host="127.0.0.1", api_port=0)
    await server.start()
    try:
        async with Toxiproxy(server.api_url, actor="test") as client:
            await client.populate([{"name": "theirs", "listen": "127.0.0.1:0", "upstream": "x:1"}])
            async with own_links([link], proxy_url=server.api_url) as (state, started):
                assert not started and set(state.links) == {"svc", "theirs"}
            assert set(await client.proxies()) == {"theirs"}
    finally:
        await server.stop()
