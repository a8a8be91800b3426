"""REST contract: status codes, bodies and defaults, as real Toxiproxy 2.12 answers them.

Messages are compared verbatim where clients match on them (the Go client's tests
do: ``HTTP 409: proxy already exists``); where Toxiproxy leaks a Go decoder error
only the stable prefix is compared.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chaos.toxiproxy import Proxy, ToxiproxyError
from tests.contract.conftest import Backend, _free_port
from tests.contract.helpers import Upstream, close, connect, eventually, refuses, roundtrip

LOOPBACK_ANY = "127.0.0.1:0"

TCP_TOXIC_DEFAULTS = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
    "noop": {},
}


async def expect_error(call: Awaitable[object], status: int, message: str) -> ToxiproxyError:
    """The call fails with exactly this status; ``message`` is matched as a prefix."""
    with pytest.raises(ToxiproxyError) as caught:
        await call
    assert (caught.value.status, caught.value.message[: len(message)]) == (status, message)
    return caught.value


async def make_proxy(backend: Backend, upstream: Upstream, name: str = "api-1") -> Proxy:
    return await backend.client.create_proxy(name, LOOPBACK_ANY, upstream.address)


# -- server --------------------------------------------------------------------------------------


async def test_version_is_json_with_a_version_string(backend: Backend) -> None:
    answer = await backend.raw("GET", "/version")
    assert answer.status == 200
    assert answer.content_type.startswith("application/json")
    assert isinstance(answer.body["version"], str) and answer.body["version"]
    assert await backend.client.version() == answer.body["version"]


async def test_starts_with_no_proxies(backend: Backend) -> None:
    answer = await backend.raw("GET", "/proxies")
    assert (answer.status, answer.body) == (200, {})
    assert answer.content_type.startswith("application/json")


async def test_browser_user_agents_are_refused(backend: Backend) -> None:
    """Toxiproxy's guard against a web page driving the API from a browser (CSRF)."""
    answer = await backend.raw(
        "GET", "/proxies", headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"}
    )
    assert answer.status == 403
    assert "User agent not allowed" in answer.text


# -- proxy CRUD ----------------------------------------------------------------------------------


async def test_create_proxy_answers_201_with_the_bound_port(backend: Backend, echo: Upstream):
    answer = await backend.raw(
        "POST", "/proxies", {"name": "api-1", "listen": LOOPBACK_ANY, "upstream": echo.address}
    )
    assert answer.status == 201
    assert answer.content_type.startswith("application/json")
    proxy = Proxy.from_json(answer.body)
    assert (proxy.name, proxy.upstream, proxy.enabled, proxy.toxics) == (
        "api-1",
        echo.address,
        True,
        (),
    )
    assert proxy.listen_host == "127.0.0.1" and proxy.listen_port != 0
    assert answer.body["toxics"] == []


async def test_created_proxy_forwards_both_ways(backend: Backend, echo: Upstream) -> None:
    proxy = await make_proxy(backend, echo)
    reader, writer = await connect(proxy.listen)
    try:
        await roundtrip(reader, writer, b"hello through the proxy")
    finally:
        await close(writer)
    assert echo.received == b"hello through the proxy"


async def test_show_and_index_agree(backend: Backend, echo: Upstream) -> None:
    created = await make_proxy(backend, echo)
    await backend.client.add_toxic("api-1", "latency", attributes={"latency": 10})
    shown = await backend.client.proxy("api-1")
    assert shown == (await backend.client.proxies())["api-1"]
    assert (shown.listen, shown.upstream, shown.enabled) == (
        created.listen,
        created.upstream,
        True,
    )
    assert [t.name for t in shown.toxics] == ["latency_downstream"]


async def test_create_disabled_proxy_does_not_listen(backend: Backend, echo: Upstream) -> None:
    """A disabled proxy reports the listen address it was given; port 0 is bound on enable."""
    proxy = await backend.client.create_proxy("api-1", LOOPBACK_ANY, echo.address, enabled=False)
    assert (proxy.enabled, proxy.listen) == (False, LOOPBACK_ANY)
    enabled = await backend.client.enable("api-1")
    assert enabled.enabled and enabled.listen_port != 0
    reader, writer = await connect(enabled.listen)
    await roundtrip(reader, writer)
    await close(writer)


async def test_disable_closes_listener_and_drops_connections(backend: Backend, echo: Upstream):
    proxy = await make_proxy(backend, echo)
    reader, writer = await connect(proxy.listen)
    await roundtrip(reader, writer)

    disabled = await backend.client.disable("api-1")
    assert (disabled.enabled, disabled.listen) == (False, proxy.listen)
    assert await refuses(proxy.listen)
    try:
        assert await reader.read(1) == b""  # dropped: end of stream ...
    except ConnectionResetError:
        pass  # ... or a reset, both mean the link is down
    await close(writer)

    enabled = await backend.client.enable("api-1")
    assert (enabled.enabled, enabled.listen) == (True, proxy.listen)
    reader, writer = await connect(proxy.listen)
    await roundtrip(reader, writer)
    await close(writer)


async def test_update_upstream_applies_to_new_connections(
    backend: Backend, upstreams: Callable[..., Awaitable[Upstream]]
) -> None:
    old = await upstreams(greeting=b"old:")
    new = await upstreams(greeting=b"new:")
    proxy = await make_proxy(backend, old)
    updated = await backend.client.update_proxy("api-1", upstream=new.address)
    assert (updated.upstream, updated.listen, updated.enabled) == (new.address, proxy.listen, True)
    reader, writer = await connect(proxy.listen)
    assert await reader.readexactly(4) == b"new:"
    await close(writer)


async def test_update_listen_rebinds(backend: Backend, echo: Upstream) -> None:
    proxy = await make_proxy(backend, echo)
    moved = await backend.client.update_proxy("api-1", listen=LOOPBACK_ANY)
    assert moved.listen_port not in (0, proxy.listen_port)
    await eventually(lambda: refuses(proxy.listen), what="old listener closed")
    reader, writer = await connect(moved.listen)
    await roundtrip(reader, writer)
    await close(writer)


async def test_update_with_post_is_still_accepted(backend: Backend, echo: Upstream) -> None:
    """The Go client (and toxiproxy-python) still update with POST /proxies/{name}."""
    await make_proxy(backend, echo)
    answer = await backend.raw("POST", "/proxies/api-1", {"enabled": False})
    assert answer.status == 200
    assert answer.body["enabled"] is False


async def test_delete_proxy(backend: Backend, echo: Upstream) -> None:
    proxy = await make_proxy(backend, echo)
    reader, writer = await connect(proxy.listen)
    await roundtrip(reader, writer)

    answer = await backend.raw("DELETE", "/proxies/api-1")
    assert (answer.status, answer.text) == (204, "")
    assert await refuses(proxy.listen)
    assert await backend.client.proxies() == {}
    await close(writer)
    await expect_error(backend.client.delete_proxy("api-1"), 404, "proxy not found")


# -- proxy errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/proxies/nope"),
        ("PATCH", "/proxies/nope"),
        ("DELETE", "/proxies/nope"),
        ("GET", "/proxies/nope/toxics"),
        ("POST", "/proxies/nope/toxics"),
        ("GET", "/proxies/nope/toxics/latency_downstream"),
        ("PATCH", "/proxies/nope/toxics/latency_downstream"),
        ("DELETE", "/proxies/nope/toxics/latency_downstream"),
    ],
)
async def test_unknown_proxy_is_404(backend: Backend, method: str, path: str) -> None:
    body = {"type": "latency"} if method in ("POST", "PATCH") else None
    answer = await backend.raw(method, path, body)
    assert (answer.status, answer.body) == (404, {"error": "proxy not found", "status": 404})


async def test_client_raises_404_for_unknown_proxy(backend: Backend) -> None:
    error = await expect_error(backend.client.proxy("nope"), 404, "proxy not found")
    assert str(error) == "HTTP 404: proxy not found"
    await expect_error(backend.client.toxics("nope"), 404, "proxy not found")
    await expect_error(backend.client.add_toxic("nope", "latency"), 404, "proxy not found")


async def test_create_existing_name_is_409(backend: Backend, echo: Upstream) -> None:
    await make_proxy(backend, echo)
    answer = await backend.raw(
        "POST", "/proxies", {"name": "api-1", "listen": LOOPBACK_ANY, "upstream": echo.address}
    )
    assert (answer.status, answer.body) == (409, {"error": "proxy already exists", "status": 409})
    await expect_error(make_proxy(backend, echo), 409, "proxy already exists")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"listen": LOOPBACK_ANY, "upstream": "127.0.0.1:9"}, "name"),
        ({"name": "", "listen": LOOPBACK_ANY, "upstream": "127.0.0.1:9"}, "name"),
        ({"name": "api-1", "listen": LOOPBACK_ANY}, "upstream"),
    ],
)
async def test_create_without_required_field_is_400(
    backend: Backend, body: dict[str, Any], field: str
):
    answer = await backend.raw("POST", "/proxies", body)
    assert (answer.status, answer.body) == (
        400,
        {"error": f"missing required field: {field}", "status": 400},
    )


async def test_create_with_malformed_json_is_400(backend: Backend) -> None:
    answer = await backend.raw("POST", "/proxies", data="not json")
    assert answer.status == 400
    assert answer.body["status"] == 400
    assert answer.body["error"].startswith("bad request body")


async def test_create_on_a_busy_port_fails_and_keeps_nothing(backend: Backend, echo: Upstream):
    """Toxiproxy answers 500 with the OS error; the name stays free."""
    first = await make_proxy(backend, echo)
    error = await expect_error(
        backend.client.create_proxy("api-2", first.listen, echo.address), 500, ""
    )
    assert "address already in use" in error.message
    assert set(await backend.client.proxies()) == {"api-1"}


# -- toxics: defaults and names ------------------------------------------------------------------


@pytest.mark.parametrize("toxic_type", sorted(TCP_TOXIC_DEFAULTS))
async def test_add_toxic_defaults(backend: Backend, echo: Upstream, toxic_type: str) -> None:
    """Only ``type`` given: named ``<type>_downstream``, toxicity 1, zero attributes, 200."""
    await make_proxy(backend, echo)
    answer = await backend.raw("POST", "/proxies/api-1/toxics", {"type": toxic_type})
    assert answer.status == 200
    assert answer.content_type.startswith("application/json")
    expected = {
        "name": f"{toxic_type}_downstream",
        "type": toxic_type,
        "stream": "downstream",
        "toxicity": 1,
        "attributes": TCP_TOXIC_DEFAULTS[toxic_type],
    }
    assert {k: answer.body.get(k) for k in expected} == expected
    shown = await backend.raw("GET", f"/proxies/api-1/toxics/{toxic_type}_downstream")
    assert (shown.status, {k: shown.body.get(k) for k in expected}) == (200, expected)


async def test_default_name_follows_the_stream(backend: Backend, echo: Upstream) -> None:
    await make_proxy(backend, echo)
    up = await backend.client.add_toxic("api-1", "latency", stream="upstream")
    down = await backend.client.add_toxic("api-1", "latency")
    assert (up.name, up.stream) == ("latency_upstream", "upstream")
    assert (down.name, down.stream) == ("latency_downstream", "downstream")
    listed = {t.name: t for t in await backend.client.toxics("api-1")}
    assert listed == {"latency_upstream": up, "latency_downstream": down}


async def test_add_toxic_round_trips_every_field(backend: Backend, echo: Upstream) -> None:
    await make_proxy(backend, echo)
    added = await backend.client.add_toxic(
        "api-1",
        "latency",
        name="slow",
        stream="upstream",
        toxicity=0.25,
        attributes={"latency": 100, "jitter": 10},
    )
    assert (added.name, added.type, added.stream, added.toxicity) == (
        "slow",
        "latency",
        "upstream",
        0.25,
    )
    assert dict(added.attributes) == {"latency": 100, "jitter": 10}
    assert await backend.client.toxic("api-1", "slow") == added
    assert (await backend.client.proxy("api-1")).toxics == (added,)


async def test_toxic_listing_is_a_json_array(backend: Backend, echo: Upstream) -> None:
    await make_proxy(backend, echo)
    empty = await backend.raw("GET", "/proxies/api-1/toxics")
    assert (empty.status, empty.body) == (200, [])
    await backend.client.add_toxic("api-1", "bandwidth", attributes={"rate": 100})
    listed = await backend.raw("GET", "/proxies/api-1/toxics")
    assert [t["name"] for t in listed.body] == ["bandwidth_downstream"]


async def test_toxic_names_are_unique_across_streams(backend: Backend, echo: Upstream) -> None:
    await make_proxy(backend, echo)
    await backend.client.add_toxic("api-1", "latency", name="x", stream="upstream")
    answer = await backend.raw(
        "POST", "/proxies/api-1/toxics", {"name": "x", "type": "slow_close", "stream": "downstream"}
    )
    assert (answer.status, answer.body) == (409, {"error": "toxic already exists", "status": 409})
    [kept] = await backend.client.toxics("api-1")
    assert (kept.type, kept.stream) == ("latency", "upstream")


async def test_default_named_toxic_twice_is_409(backend: Backend, echo: Upstream) -> None:
    await make_proxy(backend, echo)
    await backend.client.add_toxic("api-1", "latency")
    await expect_error(backend.client.add_toxic("api-1", "latency"), 409, "toxic already exists")


# -- toxics: errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "no_such_toxic"}, "invalid toxic type"),
        ({}, "invalid toxic type"),
        (
            {"type": "latency", "stream": "sideways"},
            "stream was invalid, can be either upstream or downstream",
        ),
        ({"type": "latency", "attributes": {"latency": "slow"}}, "bad request body"),
        ({"type": "bandwidth", "attributes": {"rate": 1.5}}, "bad request body"),
    ],
    ids=["unknown-type", "no-type", "bad-stream", "string-attribute", "float-for-int"],
)
async def test_bad_toxic_is_400(
    backend: Backend, echo: Upstream, body: dict[str, Any], message: str
):
    await make_proxy(backend, echo)
    answer = await backend.raw("POST", "/proxies/api-1/toxics", body)
    assert answer.status == 400
    assert answer.body["status"] == 400
    assert answer.body["error"].startswith(message), answer.body
    assert await backend.client.toxics("api-1") == []


async def test_malformed_toxic_json_is_400(backend: Backend, echo: Upstream) -> None:
    await make_proxy(backend, echo)
    answer = await backend.raw("POST", "/proxies/api-1/toxics", data="{oops")
    assert (answer.status, answer.body["status"]) == (400, 400)
    assert answer.body["error"].startswith("bad request body")


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_unknown_toxic_is_404(backend: Backend, echo: Upstream, method: str) -> None:
    await make_proxy(backend, echo)
    body = {"toxicity": 0.5} if method == "PATCH" else None
    answer = await backend.raw(method, "/proxies/api-1/toxics/nope", body)
    assert (answer.status, answer.body) == (404, {"error": "toxic not found", "status": 404})


# -- toxics: update and remove -------------------------------------------------------------------


async def test_update_toxic_merges_attributes_and_keeps_toxicity(backend: Backend, echo):
    await make_proxy(backend, echo)
    await backend.client.add_toxic(
        "api-1", "latency", toxicity=0.5, attributes={"latency": 100, "jitter": 10}
    )
    updated = await backend.client.update_toxic(
        "api-1", "latency_downstream", attributes={"latency": 1000}
    )
    assert (updated.toxicity, dict(updated.attributes)) == (0.5, {"latency": 1000, "jitter": 10})

    updated = await backend.client.update_toxic("api-1", "latency_downstream", toxicity=0.75)
    assert (updated.toxicity, dict(updated.attributes)) == (0.75, {"latency": 1000, "jitter": 10})
    assert await backend.client.toxic("api-1", "latency_downstream") == updated


async def test_update_toxic_keeps_name_type_and_stream(backend: Backend, echo: Upstream) -> None:
    await make_proxy(backend, echo)
    await backend.client.add_toxic(
        "api-1", "slicer", name="s", attributes={"average_size": 10, "delay": 100}
    )
    answer = await backend.raw(
        "PATCH",
        "/proxies/api-1/toxics/s",
        {"name": "renamed", "type": "latency", "stream": "upstream", "toxicity": 0.5},
    )
    assert answer.status == 200
    assert (answer.body["name"], answer.body["type"], answer.body["stream"]) == (
        "s",
        "slicer",
        "downstream",
    )
    assert answer.body["toxicity"] == 0.5


async def test_remove_toxic(backend: Backend, echo: Upstream) -> None:
    await make_proxy(backend, echo)
    await backend.client.add_toxic("api-1", "latency")
    answer = await backend.raw("DELETE", "/proxies/api-1/toxics/latency_downstream")
    assert (answer.status, answer.text) == (204, "")
    assert await backend.client.toxics("api-1") == []
    await expect_error(
        backend.client.remove_toxic("api-1", "latency_downstream"), 404, "toxic not found"
    )


# -- reset ---------------------------------------------------------------------------------------


async def test_reset_enables_proxies_and_removes_toxics(backend: Backend, echo: Upstream):
    proxy = await make_proxy(backend, echo)
    await backend.client.create_proxy("api-2", LOOPBACK_ANY, echo.address)
    await backend.client.add_toxic("api-1", "latency", attributes={"latency": 1000})
    await backend.client.add_toxic("api-2", "timeout", stream="upstream")
    await backend.client.disable("api-1")

    answer = await backend.raw("POST", "/reset")
    assert (answer.status, answer.text) == (204, "")

    after = await backend.client.proxies()
    assert set(after) == {"api-1", "api-2"}
    assert all(p.enabled and p.toxics == () for p in after.values())
    assert after["api-1"].listen == proxy.listen
    reader, writer = await connect(proxy.listen)
    assert await roundtrip(reader, writer) < 0.5  # the 1 s latency is gone
    await close(writer)


# -- populate ------------------------------------------------------------------------------------


async def test_populate_creates_in_order_with_201(backend: Backend, echo: Upstream) -> None:
    answer = await backend.raw(
        "POST",
        "/populate",
        [
            {"name": "b", "listen": LOOPBACK_ANY, "upstream": echo.address},
            {"name": "a", "listen": LOOPBACK_ANY, "upstream": echo.address, "enabled": False},
        ],
    )
    assert answer.status == 201
    assert answer.content_type.startswith("application/json")
    created = [Proxy.from_json(p) for p in answer.body["proxies"]]
    assert [(p.name, p.enabled) for p in created] == [("b", True), ("a", False)]
    assert created[0].listen_port != 0
    assert set(await backend.client.proxies()) == {"a", "b"}


async def test_populate_replaces_a_changed_proxy(
    backend: Backend, upstreams: Callable[..., Awaitable[Upstream]]
) -> None:
    old = await upstreams(greeting=b"old:")
    new = await upstreams(greeting=b"new:")
    await make_proxy(backend, old)
    await backend.client.add_toxic("api-1", "latency")
    [replaced] = await backend.client.populate(
        [{"name": "api-1", "listen": LOOPBACK_ANY, "upstream": new.address}]
    )
    assert (replaced.upstream, replaced.toxics) == (new.address, ())
    reader, writer = await connect(replaced.listen)
    assert await reader.readexactly(4) == b"new:"
    await close(writer)


async def test_populate_keeps_an_unchanged_proxy_with_its_toxics(
    backend: Backend, echo: Upstream
) -> None:
    """Toxiproxy compares resolved addresses: ``localhost:PORT`` again is no change."""
    port = _free_port()
    spec = {"name": "api-1", "listen": f"localhost:{port}", "upstream": echo.address}
    [first] = await backend.client.populate([spec])
    assert first.listen == f"127.0.0.1:{port}"
    await backend.client.add_toxic("api-1", "latency")
    [again] = await backend.client.populate([spec])
    assert [t.type for t in again.toxics] == ["latency"]
    assert [t.type for t in await backend.client.toxics("api-1")] == ["latency"]


async def test_a_listen_in_use_is_named_resolved(backend: Backend, echo: Upstream) -> None:
    first = await make_proxy(backend, echo)
    port = first.listen.rsplit(":", 1)[1]
    answer = await backend.raw(
        "POST",
        "/proxies",
        {"name": "other", "listen": f"localhost:{port}", "upstream": echo.address},
    )
    assert answer.status == 500
    assert f"127.0.0.1:{port}" in answer.body["error"]


async def test_populate_accepts_proxy_objects(backend: Backend, echo: Upstream) -> None:
    populated = await backend.client.populate(
        [Proxy(name="api-1", listen=LOOPBACK_ANY, upstream=echo.address)]
    )
    assert [p.name for p in populated] == ["api-1"]
    assert populated[0] == await backend.client.proxy("api-1")


async def test_populate_validates_everything_before_creating(backend: Backend, echo: Upstream):
    answer = await backend.raw(
        "POST",
        "/populate",
        [
            {"name": "good", "listen": LOOPBACK_ANY, "upstream": echo.address},
            {"name": "bad", "listen": LOOPBACK_ANY},
        ],
    )
    assert answer.status == 400
    assert (answer.body["error"], answer.body["status"]) == (
        "missing required field: upstream at proxy 2",
        400,
    )
    assert await backend.client.proxies() == {}


async def test_populate_with_nothing(backend: Backend) -> None:
    answer = await backend.raw("POST", "/populate", [])
    assert answer.status == 201
    assert not answer.body["proxies"]  # Toxiproxy sends null, [] means the same
    assert await backend.client.populate([]) == []


async def test_populate_wants_a_json_array(backend: Backend) -> None:
    """Toxiproxy's ``/populate`` takes a bare array; ``{"proxies": [...]}`` is a 400."""
    answer = await backend.raw("POST", "/populate", {"proxies": []})
    assert (answer.status, answer.body["status"]) == (400, 400)
    assert answer.body["error"].startswith("bad request body")


# -- metrics ---------------------------------------------------------------------------------


async def test_toxiproxys_byte_counters_name_the_proxy_and_its_addresses(
    backend: Backend, echo: Upstream
) -> None:
    """What a dashboard made for Toxiproxy (``-proxy-metrics``) reads, on both servers."""
    proxy = await make_proxy(backend, echo)
    reader, writer = await connect(proxy.listen)
    await roundtrip(reader, writer, b"ping")
    await close(writer)
    wanted = {"proxy": "api-1", "listener": proxy.listen, "upstream": echo.address}
    expected = {
        (f"toxiproxy_proxy_{kind}_bytes_total", direction)
        for kind in ("received", "sent")
        for direction in ("upstream", "downstream")
    }

    async def counted() -> bool:
        async with backend.http.get(backend.url + "/metrics") as response:
            text = await response.text()
        found = {
            (s.name, s.labels.get("direction"))
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if {k: s.labels.get(k) for k in wanted} == wanted and s.value >= 4
        }
        return found >= expected

    await eventually(counted)
