"""Malformed bodies to the dns and ntp admin APIs: a 400 naming the body, never a 500.

Found by a fuzzer: deep nesting raised RecursionError, invalid UTF-8 or an unknown
charset a decode error, a lone surrogate in a TXT value or a non-ASCII digit in an SRV
value an error later, each a 500 with a traceback. The service answers after each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from services.common.base import Service
from services.dns import DNSServer
from services.ntp import NTPServer

DEEP = b"[" * 50_000 + b"]" * 50_000

CASES: dict[str, tuple[type[Service], str, str]] = {
    "dns": (DNSServer, "PUT", "/records/bad/TXT"),
    "ntp": (NTPServer, "PATCH", "/clock"),
}

BODIES: dict[str, tuple[bytes, str]] = {
    "deep": (DEEP, "nested"),
    "not-utf8": (b'{"ttl": "\xff"}', "UTF-8"),
    "surrogate": (b'{"values": ["\\udc80"], "ttl": 5}', "surrogate"),
}


@pytest.fixture(params=sorted(CASES))
async def node(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, str, str]]:
    factory, method, path = CASES[request.param]
    service = factory(port=0, admin_port=0)  # type: ignore[call-arg]
    await service.start()
    try:
        yield service.endpoints["admin"], method, path
    finally:
        await service.stop()


@pytest.mark.parametrize("body", sorted(BODIES))
async def test_a_malformed_body_is_a_400_and_the_service_answers_after(
    node: tuple[str, str, str], body: str
) -> None:
    base, method, path = node
    data, why = BODIES[body]
    async with aiohttp.ClientSession() as session:
        async with session.request(
            method, base + path, data=data, headers={"Content-Type": "application/json"}
        ) as response:
            answer = await response.json()
            assert response.status == 400, answer
            assert why in answer["error"]
            assert answer.get("field") == "body"
        async with session.get(base + "/healthz") as response:
            assert response.status == 200


async def test_an_unknown_charset_is_a_400(node: tuple[str, str, str]) -> None:
    base, method, path = node
    async with aiohttp.ClientSession() as session:
        async with session.request(
            method,
            base + path,
            data=b"{}",
            headers={"Content-Type": "application/json; charset=x-no-such"},
        ) as response:
            assert response.status == 400, await response.text()


async def test_a_non_ascii_digit_in_an_srv_value_is_a_400() -> None:
    server = DNSServer(port=0, admin_port=0)
    await server.start()
    try:
        base = server.endpoints["admin"]
        body = {"ttl": 5, "values": [{"priority": "١", "weight": 1, "port": 1, "target": "a."}]}
        async with aiohttp.ClientSession() as session:
            async with session.put(base + "/records/_x._tcp/SRV", json=body) as response:
                assert response.status == 400, await response.text()
            text = '{"ttl": 5, "values": ["10 1 ١٢ a.mesh.test."]}'
            async with session.put(base + "/records/_x._tcp/SRV", data=text.encode()) as response:
                assert response.status == 400, await response.text()
            async with session.get(base + "/healthz") as response:
                assert response.status == 200
    finally:
        await server.stop()
