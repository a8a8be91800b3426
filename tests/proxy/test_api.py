"""The REST API: Toxiproxy 2.x shapes, defaults and error bodies, plus the extensions."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from chaos.proxy import ProxyServer
from tests.proxy.helpers import Api, eventually, port_of, round_trip


async def raw(server: ProxyServer, method: str, path: str, **kwargs: Any) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, server.api_url + path, **kwargs) as response:
            return response.status, response.headers.get("Content-Type", ""), await response.read()


async def test_version_is_json_like_toxiproxys(server: ProxyServer) -> None:
    status, content_type, body = await raw(server, "GET", "/version")
    assert status == 200
    assert content_type == "application/json;charset=utf-8"
    assert body.startswith(b'{"version": "2.12.0') and body.endswith(b'"}\n')


async def test_create_reports_the_bound_address(api: Api, echo_port: int) -> None:
    proxy = await api.create("echo", echo_port)
    assert list(proxy) == ["name", "listen", "upstream", "enabled", "toxics"]
    assert proxy["listen"].startswith("127.0.0.1:") and port_of(proxy["listen"]) != 0
    assert (proxy["upstream"], proxy["enabled"], proxy["toxics"]) == (
        f"127.0.0.1:{echo_port}",
        True,
        [],
    )
    assert (await api.call("GET", "/proxies/echo"))[1] == proxy


async def test_bodies_are_byte_compatible(server: ProxyServer, api: Api, echo_port: int) -> None:
    await api.create("echo", echo_port)
    status, content_type, body = await raw(
        server,
        "POST",
        "/proxies/echo/toxics",
        json={"type": "latency", "attributes": {"latency": 10}},
    )
    assert (status, content_type) == (200, "application/json")
    assert body == (
        b'{"attributes":{"latency":10,"jitter":0},"name":"latency_downstream",'
        b'"type":"latency","stream":"downstream","toxicity":1}'
    )
    status, _, body = await raw(server, "POST", "/proxies/echo/toxics", json={"type": "latency"})
    assert (status, body) == (409, b'{"error":"toxic already exists","status":409}\n')


async def test_index_is_a_map_by_name(api: Api, echo_port: int) -> None:
    await api.create("b", echo_port)
    await api.create("a", echo_port, enabled=False)
    status, proxies = await api.call("GET", "/proxies")
    assert status == 200
    assert list(proxies) == ["a", "b"]
    assert proxies["a"]["enabled"] is False and proxies["a"]["listen"] == "127.0.0.1:0"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("POST", "/proxies", {"name": "x"}, 400, "missing required field: upstream"),
        ("POST", "/proxies", {"upstream": "x:1"}, 400, "missing required field: name"),
        ("POST", "/proxies", {"name": "echo", "upstream": "x:1"}, 409, "proxy already exists"),
        ("GET", "/proxies/nope", None, 404, "proxy not found"),
        ("DELETE", "/proxies/nope", None, 404, "proxy not found"),
        ("GET", "/proxies/echo/toxics/nope", None, 404, "toxic not found"),
        ("DELETE", "/proxies/echo/toxics/nope", None, 404, "toxic not found"),
        ("PATCH", "/proxies/echo/toxics/nope", {}, 404, "toxic not found"),
        ("POST", "/proxies/nope/toxics", {"type": "latency"}, 404, "proxy not found"),
        ("PATCH", "/proxies/echo", {"protocol": "udp"}, 400, None),
        (
            "POST",
            "/proxies",
            {"name": "l", "upstream": "x:1", "listen": "bad"},
            500,
            "listen tcp: address bad: missing port in address",
        ),
    ],
)
async def test_errors_use_toxiproxys_shape_and_messages(
    api: Api, echo_port: int, method: str, path: str, body: Any, status: int, error: str | None
) -> None:
    await api.create("echo", echo_port)
    got_status, got = await api.call(method, path, body)
    assert got_status == status
    assert got["status"] == status and set(got) == {"error", "status"}
    if error is not None:
        assert got["error"] == error


async def test_listen_in_use_is_a_500_and_creates_nothing(api: Api, echo_port: int) -> None:
    taken = await api.create("first", echo_port)
    status, body = await api.call(
        "POST", "/proxies", {"name": "second", "listen": taken["listen"], "upstream": "x:1"}
    )
    assert status == 500
    assert body["error"] == f"listen tcp {taken['listen']}: bind: address already in use"
    assert (await api.call("GET", "/proxies/second"))[0] == 404


BAD_TOXICS = [
    ({"type": "nope"}, 400, "invalid toxic type"),
    ({"type": "latency", "name": "t", "attributes": {"latency": "fast"}}, 400, None),
    ({"type": "bandwidth", "attributes": {"rate": -10}}, 400, None),
    ({"type": "loss", "attributes": {"probability": 0.5}}, 400, None),
    ({"type": "latency", "attributes": {"latency": 5, "extra": 1}}, 400, None),
    ({"type": "latency", "stream": "sideways"}, 400, None),
    ({"type": "timeout", "name": "dup"}, 409, "toxic already exists"),
]


async def test_bad_toxics_get_4xx_and_traffic_keeps_flowing(api: Api, echo_port: int) -> None:
    proxy = await api.create("echo", echo_port)
    await api.add_toxic("echo", type="noop", name="dup")
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(proxy["listen"]))
    for body, status, error in BAD_TOXICS:
        got_status, got = await api.call("POST", "/proxies/echo/toxics", body)
        assert (got_status, got["status"]) == (status, status), body
        if error:
            assert got["error"] == error
        await round_trip(reader, writer)
    got_status, got = await api.call("POST", "/proxies/echo/toxics", data=b"not json{")
    assert got_status == 400 and got["error"].startswith("bad request body: invalid JSON")
    got_status, got = await api.call("POST", "/proxies/echo/toxics", data=b"")
    assert (got_status, got["error"]) == (400, "bad request body: EOF")
    await round_trip(reader, writer)
    assert [t["name"] for t in await api.toxics("echo")] == ["dup"]
    writer.close()


async def test_toxic_update_merges_like_toxiproxy(api: Api, echo_port: int) -> None:
    await api.create("echo", echo_port)
    await api.add_toxic("echo", type="latency", toxicity=0.5, attributes={"latency": 10})
    status, toxic = await api.call(
        "PATCH", "/proxies/echo/toxics/latency_downstream", {"attributes": {"jitter": 5}}
    )
    assert status == 200
    assert toxic["attributes"] == {"latency": 10, "jitter": 5} and toxic["toxicity"] == 0.5
    status, toxic = await api.call(
        "POST", "/proxies/echo/toxics/latency_downstream", {"toxicity": 1}
    )
    assert (status, toxic["toxicity"]) == (200, 1)
    status, body = await api.call(
        "PATCH", "/proxies/echo/toxics/latency_downstream", {"attributes": {"latency": -1}}
    )
    assert status == 400


async def test_populate_takes_an_array_and_keeps_identical_proxies(
    api: Api, echo_port: int
) -> None:
    upstream = f"127.0.0.1:{echo_port}"
    entry = {"name": "p1", "listen": "127.0.0.1:0", "upstream": upstream}
    status, body = await api.call("POST", "/populate", [entry])
    assert status == 201 and [p["name"] for p in body["proxies"]] == ["p1"]
    listen = body["proxies"][0]["listen"]
    await api.add_toxic("p1", type="latency")
    same = {"name": "p1", "listen": listen, "upstream": upstream}
    status, body = await api.call("POST", "/populate", [same])
    assert status == 201 and body["proxies"][0]["toxics"], "an identical proxy is kept"
    status, body = await api.call("POST", "/populate", [])
    assert (status, body) == (201, {"proxies": None})
    status, body = await api.call("POST", "/populate", {"proxies": [entry]})
    assert (status, body["status"], body["proxies"]) == (400, 400, None)


async def test_populate_checks_everything_first(api: Api) -> None:
    status, body = await api.call(
        "POST", "/populate", [{"name": "ok", "upstream": "x:1"}, {"listen": "127.0.0.1:0"}]
    )
    assert status == 400
    assert body == {
        "error": "missing required field: name at proxy 2",
        "status": 400,
        "proxies": None,
    }
    assert (await api.call("GET", "/proxies"))[1] == {}


async def test_reset_enables_links_and_removes_toxics(api: Api, echo_port: int) -> None:
    await api.create("a", echo_port)
    await api.add_toxic("a", type="latency")
    await api.patch("a", enabled=False)
    status, _ = await api.call("POST", "/reset")
    assert status == 204
    _, proxy = await api.call("GET", "/proxies/a")
    assert proxy["enabled"] is True and proxy["toxics"] == []


async def test_delete_proxy_closes_its_listener(api: Api, echo_port: int) -> None:
    proxy = await api.create("gone", echo_port)
    status, _ = await api.call("DELETE", "/proxies/gone")
    assert status == 204
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port_of(proxy["listen"]))


async def test_browsers_are_refused(server: ProxyServer) -> None:
    status, _, body = await raw(
        server, "GET", "/proxies", headers={"User-Agent": "Mozilla/5.0 (X11; Linux)"}
    )
    assert (status, body) == (403, b"User agent not allowed\n")


async def test_unknown_routes_and_methods(server: ProxyServer) -> None:
    assert (await raw(server, "GET", "/nope"))[0::2] == (404, b"404 page not found\n")
    assert (await raw(server, "GET", "/reset"))[0] == 405


async def test_udp_proxies_say_so_and_keep_their_protocol(api: Api) -> None:
    proxy = await api.create("dns", "127.0.0.1:53", protocol="udp")
    assert proxy["protocol"] == "udp"
    status, body = await api.call("PATCH", "/proxies/dns", {"protocol": "tcp"})
    assert status == 400
    status, body = await api.call(
        "POST", "/proxies", {"name": "x", "upstream": "y:1", "protocol": "sctp"}
    )
    assert status == 400


async def test_toxic_ttl_is_shown(api: Api, echo_port: int) -> None:
    await api.create("echo", echo_port)
    toxic = await api.add_toxic("echo", type="latency", ttl=30)
    assert toxic["ttl"] == 30 and toxic["expires_at"].endswith("Z")
    status, toxic = await api.call(
        "PATCH", "/proxies/echo/toxics/latency_downstream", {"ttl": None}
    )
    assert status == 200 and "ttl" not in toxic


async def test_proxy_change_with_ttl_is_reverted(api: Api, echo_port: int) -> None:
    before = await api.create("echo", echo_port)
    changed = await api.patch("echo", enabled=False, ttl=0.3)
    assert changed["enabled"] is False and changed["ttl"] == 0.3 and "expires_at" in changed

    async def healed() -> bool:
        return (await api.call("GET", "/proxies/echo"))[1]["enabled"] is True

    await eventually(healed, timeout=2, what="link re-enabled by its TTL")
    _, after = await api.call("GET", "/proxies/echo")
    assert after["listen"] == before["listen"] and "ttl" not in after


async def test_audit_records_who_changed_what(
    api: Api, server: ProxyServer, echo_port: int
) -> None:
    await api.create("echo", echo_port)
    await api.add_toxic("echo", type="latency")
    await api.call(
        "DELETE",
        "/proxies/echo/toxics/latency_downstream",
        headers={"X-Fallacies-Actor": "mallory"},
    )
    status, audit = await api.call("GET", "/audit")
    assert status == 200
    actions = [(e["action"], e["actor"], e["proxy"], e["toxic"]) for e in audit["entries"]]
    assert actions == [
        ("proxy.create", "pytest", "echo", None),
        ("toxic.create", "pytest", "echo", "latency_downstream"),
        ("toxic.delete", "mallory", "echo", "latency_downstream"),
    ]
    assert all(e["time"].endswith("Z") for e in audit["entries"])
    status, audit = await api.call("GET", "/audit?since=2")
    assert [e["seq"] for e in audit["entries"]] == [3]
    async with aiohttp.ClientSession(headers={"User-Agent": "curl/8.0"}) as session:
        async with session.post(server.api_url + "/reset") as response:
            assert response.status == 204
    _, audit = await api.call("GET", "/audit?since=3")
    assert audit["entries"][0]["actor"] == "curl/8.0"


async def test_metrics_are_served(api: Api, echo_port: int) -> None:
    await api.create("echo", echo_port)
    status, text = await api.call("GET", "/metrics")
    assert status == 200
    assert 'fallacies_proxy_fault_active{kind="partition",link="echo"} 0.0' in text
