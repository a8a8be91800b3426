"""Bad input to the proxy's API is a 400 that names the problem, and changes nothing.

Each case here was found by an outside client: one request that broke ``/metrics``,
created a proxy nobody could address, or applied a fault and then answered 500.
"""

from __future__ import annotations

import json

import pytest

from tests.proxy.helpers import Api


async def assert_still_serving(api: Api) -> None:
    status, _ = await api.call("GET", "/proxies")
    assert status == 200
    status, metrics = await api.call("GET", "/metrics")
    assert status == 200, metrics


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("\ud800", "surrogate"),
        ("x" * 8192, "at most"),
        ("a/b", "'/'"),
        ("tab\there", "printable"),
        ("", "missing"),
    ],
)
async def test_a_proxy_name_must_be_addressable(
    api: Api, echo_port: int, name: str, why: str
) -> None:
    body = json.dumps(
        {"name": name, "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{echo_port}"}
    ).encode()
    status, answer = await api.call(
        "POST", "/proxies", data=body, headers={"Content-Type": "application/json"}
    )
    assert status == 400, answer
    assert why in answer["error"]
    _, proxies = await api.call("GET", "/proxies")
    assert proxies == {}
    await assert_still_serving(api)


async def test_a_toxic_name_must_be_addressable(api: Api, echo_port: int) -> None:
    await api.create("echo", echo_port)
    body = '{"name": "\\ud800", "type": "latency", "attributes": {"latency": 1}}'
    status, answer = await api.call("POST", "/proxies/echo/toxics", data=body.encode())
    assert status == 400, answer
    _, toxics = await api.call("GET", "/proxies/echo/toxics")
    assert toxics == []
    await assert_still_serving(api)


@pytest.mark.parametrize("ttl", [1e12, 86400.5, 10**30])
async def test_a_ttl_over_a_day_is_refused_before_anything_is_applied(
    api: Api, echo_port: int, ttl: float
) -> None:
    await api.create("echo", echo_port)
    status, answer = await api.call(
        "POST",
        "/proxies/echo/toxics",
        {"type": "latency", "attributes": {"latency": 5}, "ttl": ttl},
    )
    assert status == 400, answer
    assert "86400" in answer["error"]
    status, answer = await api.call("POST", "/proxies/echo", {"enabled": False, "ttl": ttl})
    assert status == 400, answer
    _, proxy = await api.call("GET", "/proxies/echo")
    assert proxy["enabled"] is True and proxy["toxics"] == []
    status, audit = await api.call("GET", "/audit")
    assert status == 200
    assert [e["action"] for e in audit["entries"]] == ["proxy.create"]
    await assert_still_serving(api)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (b'{"name": "\xff\xfe", "upstream": "127.0.0.1:1"}', "UTF-8"),
        (b'{"name": "a", "upstream": "127.0.0.1:1", "x": "' + b"y" * 500_000 + b'"}', "65536"),
    ],
)
async def test_malformed_bodies_are_a_400(api: Api, data: bytes, why: str) -> None:
    status, answer = await api.call("POST", "/proxies", data=data)
    assert status == 400, answer
    assert why in answer["error"]
    await assert_still_serving(api)
