"""A run on one's own services, in process: a service behind a link of one's own, probes
judged per window, a stop condition that ends the run, and no fault left behind."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from chaos.loader import load_experiment
from chaos.mesh.errors import MeshError
from chaos.probes import Measurement, probe_from
from chaos.runner.probing import ProbeRunner
from chaos.standalone import own_links
from chaos.toxiproxy import Toxiproxy
from tests.conftest import require_tool
from tests.polling import eventually


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
    timed = (
        "import time, urllib.request; t = time.monotonic(); "
        f"urllib.request.urlopen('http://127.0.0.1:{listen}/').read(); "
        "print(time.monotonic() - t)"
    )
    stop = f"""\
stop_when:
  - probe: {{command: {{run: {json.dumps([sys.executable, "-c", timed])}, op: ">",
      threshold: 0.3}}}}
    description: the service is slow
"""
    exp = load_experiment(experiment(tmp_path, listen, stop), links={"svc": "tcp"})
    async with own_links([link], proxy_url=None) as (state, _):
        journal = await ProbeRunner(state).run_one(exp)
        assert await toxics_left(state.links["svc"].api) == 0
    assert journal.status == "aborted"
    assert journal.error is not None and "the stop condition 'the service is slow' was met" in (
        journal.error
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


async def test_a_stop_condition_met_in_the_warm_up_injects_nothing(
    tmp_path: Path, upstream: int
) -> None:
    listen = free_port()
    link = {"name": "svc", "listen": f"127.0.0.1:{listen}", "upstream": f"127.0.0.1:{upstream}"}
    stop = 'stop_when:\n  - probe: {command: {run: "true"}}\n'
    exp = load_experiment(experiment(tmp_path, listen, stop), links={"svc": "tcp"})
    async with own_links([link], proxy_url=None) as (state, _):
        journal = await ProbeRunner(state).run_one(exp)
    assert journal.status == "aborted" and journal.faults == []
    assert journal.error is not None and journal.error.startswith("stopped before any fault")


class _Broken:
    kind = "http"

    def describe(self) -> str:
        return "a probe with a bug"

    async def measure(self, session: object) -> Measurement:
        raise RuntimeError("bug")


async def test_a_probe_that_raises_fails_its_calls_and_a_slow_one_delays_no_other(
    tmp_path: Path, upstream: int
) -> None:
    listen = free_port()
    link = {"name": "svc", "listen": f"127.0.0.1:{listen}", "upstream": f"127.0.0.1:{upstream}"}
    sleep = json.dumps([sys.executable, "-c", "import time; time.sleep(2.5)"])
    slow = f"  - phase: during\n    probe: {{command: {{run: {sleep}}}}}\n"
    experiment(tmp_path, listen)
    text = (tmp_path / "exp.yaml").read_text().replace("expectations:\n", "expectations:\n" + slow)
    (tmp_path / "exp.yaml").write_text(text)
    exp = load_experiment(tmp_path / "exp.yaml", links={"svc": "tcp"})
    slow_check, within, *rest = exp.expectations
    assert slow_check.signal == "command"
    broken = dataclasses.replace(within, probe=_Broken(), description="broken")
    exp = dataclasses.replace(exp, expectations=(slow_check, broken, *rest))
    async with own_links([link], proxy_url=None) as (state, _):
        journal = await ProbeRunner(state).run_one(exp)
    fast = journal.steady_state[0]
    assert fast.passed and not fast.detail.startswith("0 of"), fast.detail
    (failed,) = [c for c in journal.expectations if c.description == "broken"]
    assert not failed.passed and "the probe failed: RuntimeError('bug')" in failed.detail


async def test_a_cancelled_command_probe_leaves_no_program_behind(tmp_path: Path) -> None:
    marker = tmp_path / "still-here"
    script = f"import time, pathlib; time.sleep(1.5); pathlib.Path({str(marker)!r}).touch()"
    probe = probe_from({"command": {"run": [sys.executable, "-c", script]}})
    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(probe.measure(session))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await asyncio.sleep(2.0)  # past the moment the program would have written its marker
    assert not marker.exists()


async def test_a_real_toxiproxy_is_refused_for_a_run(upstream: int) -> None:
    binary = require_tool("toxiproxy-server")
    port = free_port()
    process = subprocess.Popen(
        [binary, "-host", "127.0.0.1", "-port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        async def answers() -> bool:
            try:
                async with Toxiproxy(url, actor="test") as client:
                    await client.version()
                return True
            except Exception:
                return False

        await eventually(answers, timeout=20, what="toxiproxy-server")
        link = {"name": "svc", "listen": f"127.0.0.1:{free_port()}", "upstream": "127.0.0.1:1"}
        with pytest.raises(MeshError, match="is a Toxiproxy .*keeps no TTL"):
            async with own_links([link], proxy_url=url):
                pass
        async with Toxiproxy(url, actor="test") as client:
            assert await client.proxies() == {}
    finally:
        process.terminate()
        process.wait(timeout=10)
