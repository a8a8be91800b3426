"""One contract suite, two servers: real Toxiproxy (the ground truth) and ``chaos.proxy``.

Every test that takes ``backend`` runs against both, each started fresh on
ephemeral ports: Toxiproxy as a subprocess (``toxiproxy-server`` on PATH, or the
``server`` binary ``go install github.com/Shopify/toxiproxy/v2/cmd/server`` leaves in
``~/go/bin``), the project's proxy in-process on the test's event loop. A test
that passes on one and fails on the other is a deviation of the project's proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chaos.toxiproxy import Toxiproxy, ToxiproxyError
from tests.conftest import require_tool
from tests.contract.helpers import Raw, Upstream, raw

BACKENDS = ["toxiproxy", "fallacies"]
GO_INSTALLED_SERVER = Path.home() / "go" / "bin" / "server"


@dataclass
class Backend:
    """A running Toxiproxy-compatible server and a client for it."""

    name: str
    url: str
    client: Toxiproxy
    http: aiohttp.ClientSession

    async def raw(self, method: str, path: str, body: Any = None, **kw: Any) -> Raw:
        return await raw(self.http, self.url, method, path, body, **kw)


def toxiproxy_server_binary() -> str:
    """``toxiproxy-server`` from PATH; locally, ``go install``'s ``~/go/bin/server`` will do."""
    if shutil.which("toxiproxy-server") is None and GO_INSTALLED_SERVER.is_file():
        return str(GO_INSTALLED_SERVER)
    return require_tool("toxiproxy-server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_ready(client: Toxiproxy, proc: subprocess.Popen[bytes], deadline: float) -> bool:
    stop_at = time.monotonic() + deadline
    while time.monotonic() < stop_at and proc.poll() is None:
        try:
            await client.version()
            return True
        except ToxiproxyError:
            await asyncio.sleep(0.02)
    return False


@contextlib.asynccontextmanager
async def real_toxiproxy(http: aiohttp.ClientSession, workdir: Path) -> AsyncIterator[str]:
    """Run the real server on a free port and make sure the API that answers is ours.

    Toxiproxy keeps running when its API port is taken, so a lost race for the
    port would silently test someone else's server: the server is started with a
    ``-config`` holding a proxy named by a one-off token, and must show it.
    """
    binary = toxiproxy_server_binary()
    log = workdir / "toxiproxy.log"
    for attempt in range(5):
        token = f"contract-{os.getpid()}-{attempt}-{time.monotonic_ns()}"
        config = workdir / f"{token}.json"
        config.write_text(
            json.dumps(
                [
                    {
                        "name": token,
                        "listen": "127.0.0.1:0",
                        "upstream": "127.0.0.1:9",
                        "enabled": False,
                    }
                ]
            )
        )
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [
                    binary,
                    "-host",
                    "127.0.0.1",
                    "-port",
                    str(port),
                    "-config",
                    str(config),
                    "-proxy-metrics",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "LOG_LEVEL": "info"},
            )
        try:
            probe = Toxiproxy(url, session=http, timeout=1.0)
            if await _wait_ready(probe, proc, deadline=10.0):
                if token in await probe.proxies():
                    await probe.delete_proxy(token)
                    yield url
                    return
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    raise RuntimeError(f"toxiproxy-server did not start; log: {log.read_text()[-2000:]}")


@contextlib.asynccontextmanager
async def project_proxy() -> AsyncIterator[str]:
    """Run ``chaos.proxy.ProxyServer`` in this event loop with a fixed seed."""
    from chaos.proxy import ProxyServer

    server = ProxyServer(api_host="127.0.0.1", api_port=0, seed=1)
    await server.start()
    try:
        endpoints = server.endpoints
        address = endpoints.get("api") or endpoints.get("admin") or endpoints.get("http")
        assert address, f"no API endpoint in {endpoints}"
        yield address if "://" in address else f"http://{address}"
    finally:
        await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest, http: aiohttp.ClientSession, tmp_path: Path
) -> AsyncIterator[Backend]:
    name: str = request.param
    server = real_toxiproxy(http, tmp_path) if name == "toxiproxy" else project_proxy()
    async with server as url:
        yield Backend(name, url, Toxiproxy(url, session=http, timeout=5.0, actor="contract"), http)


@pytest.fixture
async def upstreams() -> AsyncIterator[Callable[..., Awaitable[Upstream]]]:
    """Start upstream servers on demand; all stopped at teardown."""
    started: list[Upstream] = []

    async def start(**kw: Any) -> Upstream:
        upstream = await Upstream(**kw).start()
        started.append(upstream)
        return upstream

    yield start
    for upstream in started:
        await upstream.stop()


@pytest.fixture
async def echo(upstreams: Callable[..., Awaitable[Upstream]]) -> Upstream:
    return await upstreams()
