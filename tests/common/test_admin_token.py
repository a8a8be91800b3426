"""The admin token on every admin and fault API: required when set, locked off loopback without."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from chaos.proxy import ProxyServer
from services.common.admin_token import (
    ENV,
    HEADER,
    from_env,
    protect,
    refusal,
    token_from_env,
)
from services.common.base import Service
from services.dns import DNSServer
from services.ntp import NTPServer

TOKEN = "t0ken-for-tests"


def test_refusal_rules() -> None:
    def check(method: str, path: str, headers: dict[str, str], token: str | None, host: str):
        return refusal(method, path, headers, token=token, host=host)

    assert check("GET", "/healthz", {}, TOKEN, "0.0.0.0") is None
    assert check("GET", "/metrics", {}, None, "0.0.0.0") is None
    assert check("POST", "/healthz", {}, TOKEN, "127.0.0.1") == (
        401,
        f"a valid {HEADER} header is required",
    )
    assert check("GET", "/zone", {HEADER: "wrong"}, TOKEN, "127.0.0.1")[0] == 401  # type: ignore[index]
    assert check("GET", "/zone", {HEADER: TOKEN}, TOKEN, "0.0.0.0") is None
    assert check("PUT", "/clock", {}, None, "127.0.0.1") is None
    assert check("PUT", "/clock", {}, None, "::1") is None
    status, message = check("PUT", "/clock", {HEADER: TOKEN}, None, "0.0.0.0")  # type: ignore[misc]
    assert status == 403 and ENV in message


def test_the_environment_wins_over_the_config() -> None:
    assert from_env({"admin_token": "file"}, {ENV: "env"})["admin_token"] == "env"
    assert from_env({"admin_token": "file"}, {ENV: ""})["admin_token"] == "file"
    assert "admin_token" not in from_env({}, {})
    assert token_from_env({ENV: ""}) is None and token_from_env({ENV: "t"}) == "t"


async def test_a_protected_app_off_loopback_without_a_token_is_locked() -> None:
    async def hello(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/healthz", hello)
    app.router.add_get("/records", hello)
    protect(app, token=None, host="0.0.0.0")
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/healthz")).status == 200
        locked = await client.get("/records", headers={HEADER: "anything"})
        assert locked.status == 403
        assert (await locked.json())["status"] == 403


def _dns() -> Service:
    return DNSServer(port=0, admin_port=0, admin_token=TOKEN)


def _ntp() -> Service:
    return NTPServer(port=0, admin_port=0, admin_token=TOKEN)


def _proxy() -> Service:
    return ProxyServer(api_port=0, api_token=TOKEN)


# Per node: its factory, the endpoint key of its admin URL, a read and a change that need
# the token, and what stays open.
NODES: dict[str, tuple[Any, str, tuple[str, str, Any], tuple[str, str, Any], list[str]]] = {
    "dns": (
        _dns,
        "admin",
        ("GET", "/zone", None),
        ("PATCH", "/records/api-1/A", {"ttl": 7}),
        ["/healthz", "/metrics"],
    ),
    "ntp": (
        _ntp,
        "admin",
        ("GET", "/clock", None),
        ("PATCH", "/clock", {"offset": 5}),
        ["/healthz", "/metrics"],
    ),
    "proxy": (
        _proxy,
        "api",
        ("GET", "/proxies", None),
        ("POST", "/proxies", {"name": "x", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"}),
        ["/version", "/metrics"],
    ),
}


@pytest.fixture(params=sorted(NODES))
async def node(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, str]]:
    name = request.param
    service: Service = NODES[name][0]()
    await service.start()
    try:
        yield name, service.endpoints[NODES[name][1]]
    finally:
        await service.stop()


async def test_admin_api_needs_the_token(node: tuple[str, str]) -> None:
    name, base = node
    _, _, read, change, open_paths = NODES[name]
    async with aiohttp.ClientSession() as session:
        for method, path, body in (read, change):
            for headers in ({}, {HEADER: "guess"}):
                async with session.request(method, base + path, json=body, headers=headers) as r:
                    assert r.status == 401, (method, path)
                    assert HEADER in (await r.json())["error"]
        for method, path, body in (read, change):
            async with session.request(
                method, base + path, json=body, headers={HEADER: TOKEN}
            ) as r:
                assert r.status in (200, 201), (method, path, await r.text())
        for path in open_paths:
            async with session.get(base + path) as r:
                assert r.status == 200, path


async def test_the_node_entry_point_takes_the_token_from_the_environment(tmp_path: Path) -> None:
    """How the containers get their token: ``$FALLACIES_ADMIN_TOKEN`` over the config file."""
    config = tmp_path / "dns.json"
    config.write_text(json.dumps({"port": 0, "admin_port": 0, "admin_token": "from-the-file"}))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chaos.node",
        "dns",
        "--config",
        str(config),
        env={**os.environ, ENV: TOKEN},
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        admin = json.loads(line)["endpoints"]["admin"]
        async with aiohttp.ClientSession() as session:
            for token, status in (("from-the-file", 401), (TOKEN, 200)):
                async with session.get(f"{admin}/zone", headers={HEADER: token}) as r:
                    assert r.status == status, token
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
