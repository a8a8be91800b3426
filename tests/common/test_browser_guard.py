"""A web page cannot change the mesh: every admin, fault and control API, token or not.

Found by a browser: with no token (the embedded default) a cross-origin ``text/plain``
POST added DNS records, reset clocks and stopped nodes, and a foreign ``Host`` (DNS
rebinding) was served. Each case below failed before the guard.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from chaos.proxy import ProxyServer
from services.common.base import Service
from services.common.browser_guard import browser_refusal, host_allowed
from services.dns import DNSServer
from services.ntp import NTPServer

# Per node: its factory, the endpoint key of its API, a change and a read that shows it.
NODES: dict[str, tuple[Any, str, tuple[str, str, bytes], str]] = {
    "dns": (
        lambda: DNSServer(port=0, admin_port=0),
        "admin",
        ("PUT", "/records/evil/A", b'{"ttl": 5, "values": ["10.6.6.6"]}'),
        "/records/evil/A",
    ),
    "ntp": (
        lambda: NTPServer(port=0, admin_port=0),
        "admin",
        ("PATCH", "/clock", b'{"offset": 3600}'),
        "/clock",
    ),
    "proxy": (
        lambda: ProxyServer(api_port=0),
        "api",
        (
            "POST",
            "/proxies",
            b'{"name": "evil", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"}',
        ),
        "/proxies",
    ),
}


@asynccontextmanager
async def started(name: str) -> AsyncIterator[str]:
    """The node running, as the base URL of its API."""
    service: Service = NODES[name][0]()
    await service.start()
    try:
        yield service.endpoints[NODES[name][1]]
    finally:
        await service.stop()


async def _state(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as response:
        return await response.text()


BROWSER: dict[str, dict[str, str]] = {
    "cross-origin-text": {"Content-Type": "text/plain", "Origin": "http://evil.example"},
    "text-plain": {"Content-Type": "text/plain"},
    "form": {"Content-Type": "application/x-www-form-urlencoded"},
    "foreign-origin": {"Content-Type": "application/json", "Origin": "http://evil.example"},
    "cross-site": {"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"},
    "rebinding": {"Content-Type": "application/json", "Host": "rebound.evil.example"},
}
SIMPLE_ONLY = ("text-plain", "form")
"""Taken by the proxy, as Toxiproxy takes them (its clients post JSON as text/plain)."""


@pytest.mark.parametrize(
    ("name", "case"),
    [
        (name, case)
        for name in sorted(NODES)
        for case in BROWSER
        if not (name == "proxy" and case in SIMPLE_ONLY)
    ],
)
async def test_a_browser_change_is_refused_and_nothing_changes(name: str, case: str) -> None:
    _, _, (method, path, body), read = NODES[name]
    async with started(name) as base, aiohttp.ClientSession() as session:
        before = await _state(session, base + read)
        async with session.request(
            method, base + path, data=body, headers=BROWSER[case]
        ) as response:
            assert response.status == 403, await response.text()
            assert (await response.json())["status"] == 403
        assert await _state(session, base + read) == before
        # The mesh's own client (JSON, no Origin) still may.
        async with session.request(
            method, base + path, data=body, headers={"Content-Type": "application/json"}
        ) as response:
            assert response.status in (200, 201), await response.text()


async def test_the_proxy_takes_toxiproxys_text_plain_but_not_a_browser() -> None:
    _, _, (method, path, body), _ = NODES["proxy"]
    async with started("proxy") as base, aiohttp.ClientSession() as session:
        browser = {"Content-Type": "text/plain", "User-Agent": "Mozilla/5.0"}
        async with session.request(method, base + path, data=body, headers=browser) as response:
            assert response.status == 403
        plain = {"Content-Type": "text/plain"}
        async with session.request(method, base + path, data=body, headers=plain) as response:
            assert response.status == 201


@pytest.mark.parametrize("name", sorted(NODES))
async def test_a_foreign_host_cannot_even_read(name: str) -> None:
    async with started(name) as base, aiohttp.ClientSession() as session:
        async with session.get(
            base + NODES[name][3], headers={"Host": "attacker.example:80"}
        ) as response:
            assert response.status == 403


def test_which_hosts_and_requests_pass() -> None:
    for host in ("127.0.0.1:8474", "localhost:1", "[::1]:9", "172.30.0.10:8080", "app.localhost"):
        assert host_allowed(host), host
    for host in ("evil.example", "localhost.evil.example:80", "", "[::1"):
        assert not host_allowed(host), host
    assert host_allowed("api-1:8081", frozenset({"api-1"}))
    same = {"Host": "127.0.0.1:5", "Origin": "http://127.0.0.1:5"}
    assert browser_refusal("POST", {**same, "Content-Type": "application/json"}) is None
    assert browser_refusal("DELETE", {"Host": "127.0.0.1:5"}) is None
    assert browser_refusal("GET", {}) is None  # HTTP/1.0 with no Host: a healthcheck
    assert browser_refusal("GET", {"Host": ""}) is not None
    assert browser_refusal("GET", {"Host": "127.0.0.1:5", "Origin": "http://evil"}) is None
    text = {"Host": "127.0.0.1:5", "Content-Type": "text/plain"}
    assert browser_refusal("POST", text) is not None
    assert browser_refusal("POST", text, simple_bodies=True) is None


@pytest.mark.parametrize("name", sorted(NODES))
async def test_an_http_1_0_healthcheck_without_host_passes(name: str) -> None:
    """The containers' healthcheck is bash writing ``GET /healthz HTTP/1.0`` with no Host."""
    async with started(name) as base:
        host, port = base.removeprefix("http://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        path = "/version" if name == "proxy" else "/healthz"
        writer.write(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        status = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
        assert status.split()[1] == b"200", status
