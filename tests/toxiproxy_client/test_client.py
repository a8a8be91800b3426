"""``chaos.toxiproxy.Toxiproxy`` against a fake Toxiproxy: what it sends, what it makes of answers.

The fake is an aiohttp app that records every request and answers what the test
tells it to, so error paths real servers rarely take (timeouts, broken bodies,
plain-text errors) are exercised without a network beyond loopback.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import FrozenInstanceError, dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from chaos.toxiproxy import USER_AGENT, AuditEntry, Proxy, Toxic, Toxiproxy, ToxiproxyError

PROXY_JSON = {
    "name": "api-1",
    "listen": "127.0.0.1:41000",
    "upstream": "127.0.0.1:8080",
    "enabled": True,
    "Logger": {},  # real Toxiproxy leaks this field
    "toxics": [
        {
            "attributes": {"latency": 100, "jitter": 10},
            "name": "latency_downstream",
            "type": "latency",
            "stream": "downstream",
            "toxicity": 1,
        }
    ],
}
TOXIC_JSON = PROXY_JSON["toxics"][0]  # type: ignore[index]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Fake:
    """Answers with ``status``/``body`` (JSON unless ``text`` is set); ``hang`` never answers."""

    url: str = ""
    requests: list[Seen] = field(default_factory=list)
    status: int = 200
    body: Any = None
    text: str | None = None
    content_type: str = "application/json"
    hang: bool = False

    def answer(self, status: int, body: Any = None, *, text: str | None = None, **kw: Any) -> None:
        self.status, self.body, self.text = status, body, text
        for key, value in kw.items():
            setattr(self, key, value)

    @property
    def last(self) -> Seen:
        return self.requests[-1]


@pytest.fixture
async def fake() -> AsyncIterator[Fake]:
    state = Fake()

    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await request.text()
        state.requests.append(
            Seen(
                request.method,
                request.raw_path,
                dict(request.headers),
                json.loads(raw) if raw else None,
            )
        )
        if state.hang:
            await asyncio.Event().wait()
        text = (
            state.text
            if state.text is not None
            else ("" if state.body is None else json.dumps(state.body))
        )
        return web.Response(
            status=state.status, text=text, content_type=state.content_type.split(";")[0]
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state.url = str(server.make_url("")).rstrip("/")
    try:
        yield state
    finally:
        await server.close()


@pytest.fixture
async def client(fake: Fake) -> AsyncIterator[Toxiproxy]:
    async with Toxiproxy(fake.url, timeout=2.0) as tp:
        yield tp


# -- what it sends -------------------------------------------------------------------------------


async def test_headers_name_the_client_and_never_look_like_a_browser(fake: Fake) -> None:
    fake.answer(200, {})
    async with Toxiproxy(fake.url) as tp:
        await tp.proxies()
    headers = fake.last.headers
    assert headers["User-Agent"] == USER_AGENT and not USER_AGENT.startswith("Mozilla/")
    assert "X-Fallacies-Actor" not in headers


async def test_actor_is_sent_on_every_call(fake: Fake) -> None:
    fake.answer(200, TOXIC_JSON)
    async with Toxiproxy(fake.url, actor="experiment-2") as tp:
        await tp.add_toxic("api-1", "latency")
        await tp.update_toxic("api-1", "latency_downstream", toxicity=0.5)
    assert [r.headers["X-Fallacies-Actor"] for r in fake.requests] == ["experiment-2"] * 2


async def test_create_proxy_body(fake: Fake, client: Toxiproxy) -> None:
    fake.answer(201, PROXY_JSON)
    await client.create_proxy("api-1", "127.0.0.1:0", "127.0.0.1:8080")
    assert (fake.last.method, fake.last.path) == ("POST", "/proxies")
    assert fake.last.body == {
        "name": "api-1",
        "listen": "127.0.0.1:0",
        "upstream": "127.0.0.1:8080",
        "enabled": True,
    }
    assert fake.last.headers["Content-Type"] == "application/json"


async def test_protocol_is_sent_only_when_given(fake: Fake, client: Toxiproxy) -> None:
    fake.answer(201, {**PROXY_JSON, "protocol": "udp"})
    created = await client.create_proxy("dns", "127.0.0.1:0", "127.0.0.1:53", protocol="udp")
    assert fake.last.body["protocol"] == "udp"
    assert created.protocol == "udp"


async def test_add_toxic_sends_defaults_and_omits_unset_extensions(fake: Fake, client: Toxiproxy):
    fake.answer(200, TOXIC_JSON)
    await client.add_toxic("api-1", "latency")
    assert (fake.last.method, fake.last.path) == ("POST", "/proxies/api-1/toxics")
    assert fake.last.body == {
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {},
    }


async def test_add_toxic_with_everything(fake: Fake, client: Toxiproxy) -> None:
    fake.answer(200, {**TOXIC_JSON, "ttl": 30})
    toxic = await client.add_toxic(
        "api-1",
        "latency",
        name="slow",
        stream="upstream",
        toxicity=0.5,
        attributes={"latency": 100},
        ttl=30,
    )
    assert fake.last.body == {
        "type": "latency",
        "name": "slow",
        "stream": "upstream",
        "toxicity": 0.5,
        "attributes": {"latency": 100},
        "ttl": 30,
    }
    assert toxic.ttl == 30.0


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        ({"toxicity": 0.0}, {"toxicity": 0.0}),
        ({"attributes": {"latency": 5}}, {"attributes": {"latency": 5}}),
        ({"ttl": 1.5}, {"ttl": 1.5}),
        ({}, {}),
    ],
)
async def test_update_toxic_sends_only_what_changes(fake: Fake, client: Toxiproxy, kwargs, body):
    fake.answer(200, TOXIC_JSON)
    await client.update_toxic("api-1", "latency_downstream", **kwargs)
    assert (fake.last.method, fake.last.path, fake.last.body) == (
        "PATCH",
        "/proxies/api-1/toxics/latency_downstream",
        body,
    )


@pytest.mark.parametrize(
    ("call", "body"),
    [
        (lambda tp: tp.update_proxy("api-1", upstream="127.0.0.1:9"), {"upstream": "127.0.0.1:9"}),
        (lambda tp: tp.update_proxy("api-1", listen="127.0.0.1:0"), {"listen": "127.0.0.1:0"}),
        (lambda tp: tp.enable("api-1"), {"enabled": True}),
        (lambda tp: tp.disable("api-1"), {"enabled": False}),
    ],
    ids=["upstream", "listen", "enable", "disable"],
)
async def test_proxy_updates_are_patches(fake: Fake, client: Toxiproxy, call, body) -> None:
    fake.answer(200, PROXY_JSON)
    await call(client)
    assert (fake.last.method, fake.last.path, fake.last.body) == ("PATCH", "/proxies/api-1", body)


async def test_deletes_and_reset(fake: Fake, client: Toxiproxy) -> None:
    fake.answer(204)
    await client.delete_proxy("api-1")
    await client.remove_toxic("api-1", "latency_downstream")
    await client.reset()
    assert [(r.method, r.path, r.body) for r in fake.requests] == [
        ("DELETE", "/proxies/api-1", None),
        ("DELETE", "/proxies/api-1/toxics/latency_downstream", None),
        ("POST", "/reset", None),
    ]


async def test_names_are_escaped_in_paths(fake: Fake, client: Toxiproxy) -> None:
    fake.answer(200, TOXIC_JSON)
    await client.toxic("a b/c", "x?y")
    assert fake.last.path == "/proxies/a%20b%2Fc/toxics/x%3Fy"


async def test_populate_sends_a_list_and_reads_proxies(fake: Fake, client: Toxiproxy) -> None:
    fake.answer(201, {"proxies": [PROXY_JSON]})
    result = await client.populate(
        [
            Proxy("api-1", "127.0.0.1:0", "127.0.0.1:8080"),
            {"name": "dns", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:53", "protocol": "udp"},
        ]
    )
    assert fake.last.body == [
        {"name": "api-1", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:8080", "enabled": True},
        {"name": "dns", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:53", "protocol": "udp"},
    ]
    assert [p.name for p in result] == ["api-1"]


async def test_populate_null_proxies_is_an_empty_list(fake: Fake, client: Toxiproxy) -> None:
    fake.answer(201, {"proxies": None})
    assert await client.populate([]) == []


# -- what it makes of answers --------------------------------------------------------------------


async def test_proxies_are_typed(fake: Fake, client: Toxiproxy) -> None:
    fake.answer(200, {"api-1": PROXY_JSON})
    proxies = await client.proxies()
    proxy = proxies["api-1"]
    assert proxy == Proxy(
        name="api-1",
        listen="127.0.0.1:41000",
        upstream="127.0.0.1:8080",
        enabled=True,
        toxics=(
            Toxic(
                "latency_downstream", "latency", "downstream", 1.0, {"latency": 100, "jitter": 10}
            ),
        ),
        protocol="tcp",
    )
    assert (proxy.listen_host, proxy.listen_port) == ("127.0.0.1", 41000)


async def test_toxics_are_typed(fake: Fake, client: Toxiproxy) -> None:
    fake.answer(200, [TOXIC_JSON])
    [toxic] = await client.toxics("api-1")
    assert (toxic.name, toxic.type, toxic.stream, toxic.toxicity, toxic.ttl) == (
        "latency_downstream",
        "latency",
        "downstream",
        1.0,
        None,
    )
    assert dict(toxic.attributes) == {"latency": 100, "jitter": 10}


@pytest.mark.parametrize(
    ("text", "expected"),
    [('{"version": "2.12.0"}\n', "2.12.0"), ("2.1.4", "2.1.4")],
    ids=["json", "plain-text-before-2.5"],
)
async def test_version(fake: Fake, client: Toxiproxy, text: str, expected: str) -> None:
    fake.answer(200, text=text)
    assert await client.version() == expected


def test_results_are_immutable_and_hashable() -> None:
    proxy = Proxy.from_json(PROXY_JSON)
    with pytest.raises(FrozenInstanceError):
        proxy.enabled = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        proxy.toxics[0].attributes["latency"] = 1  # type: ignore[index]
    assert hash(proxy) == hash(Proxy.from_json(PROXY_JSON))


def test_ipv6_listen_address() -> None:
    proxy = Proxy("p", "[::]:39817", "127.0.0.1:9")
    assert (proxy.listen_host, proxy.listen_port) == ("::", 39817)


async def test_audit_entries_are_typed(fake: Fake, client: Toxiproxy) -> None:
    entry_json = {
        "seq": 7,
        "time": "2026-01-01T12:00:00.000Z",
        "actor": "runner/latency-1",
        "remote": "127.0.0.1",
        "action": "toxic.create",
        "proxy": "api-1",
        "toxic": "latency_downstream",
        "detail": TOXIC_JSON,
    }
    fake.answer(200, {"entries": [entry_json], "dropped": 0})
    [entry] = await client.audit()
    assert fake.last.path == "/audit"
    assert entry == AuditEntry(
        seq=7,
        time=dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC),
        actor="runner/latency-1",
        action="toxic.create",
        proxy="api-1",
        toxic="latency_downstream",
        remote="127.0.0.1",
        detail=TOXIC_JSON,
    )
    await client.audit(since=7)
    assert fake.last.path == "/audit?since=7"


async def test_ttl_extension_fields(fake: Fake, client: Toxiproxy) -> None:
    fake.answer(200, {**PROXY_JSON, "ttl": 30, "expires_at": "2026-01-01T12:00:30.000Z"})
    proxy = await client.disable("api-1", ttl=30)
    assert fake.last.body == {"enabled": False, "ttl": 30}
    assert (proxy.ttl, proxy.expires_at) == (
        30.0,
        dt.datetime(2026, 1, 1, 12, 0, 30, tzinfo=dt.UTC),
    )


# -- errors --------------------------------------------------------------------------------------


async def test_api_error_body_becomes_status_and_message(fake: Fake, client: Toxiproxy) -> None:
    # Toxiproxy sends its JSON errors as text/plain.
    fake.answer(404, text='{"error":"proxy not found","status":404}\n', content_type="text/plain")
    with pytest.raises(ToxiproxyError) as caught:
        await client.proxy("nope")
    assert (caught.value.status, caught.value.message) == (404, "proxy not found")
    assert str(caught.value) == "HTTP 404: proxy not found"


async def test_plain_text_error(fake: Fake, client: Toxiproxy) -> None:
    fake.answer(403, text="User agent not allowed\n", content_type="text/plain")
    with pytest.raises(ToxiproxyError) as caught:
        await client.proxies()
    assert (caught.value.status, caught.value.message) == (403, "User agent not allowed")


async def test_empty_error_body_still_says_what_failed(fake: Fake, client: Toxiproxy) -> None:
    fake.answer(500, text="")
    with pytest.raises(ToxiproxyError) as caught:
        await client.reset()
    assert caught.value.status == 500
    assert "POST" in caught.value.message and "/reset" in caught.value.message


async def test_populate_error_with_proxies_field(fake: Fake, client: Toxiproxy) -> None:
    fake.answer(
        400,
        {"error": "missing required field: upstream at proxy 2", "status": 400, "proxies": None},
    )
    with pytest.raises(ToxiproxyError) as caught:
        await client.populate([{"name": "x"}])
    assert (caught.value.status, caught.value.message) == (
        400,
        "missing required field: upstream at proxy 2",
    )


@pytest.mark.parametrize(
    ("answer", "call"),
    [
        ({"text": "<html>oops</html>"}, lambda tp: tp.proxies()),
        ({"body": ["not", "a", "map"]}, lambda tp: tp.proxies()),
        ({"body": {"name": "no listen"}}, lambda tp: tp.proxy("x")),
        ({"body": {"not": "a list"}}, lambda tp: tp.toxics("x")),
    ],
    ids=["not-json", "index-not-a-map", "proxy-missing-field", "toxics-not-a-list"],
)
async def test_unexpected_bodies_are_status_0(fake: Fake, client: Toxiproxy, answer, call) -> None:
    fake.answer(200, **answer)
    with pytest.raises(ToxiproxyError) as caught:
        await call(client)
    assert caught.value.status == 0
    assert fake.url in str(caught.value)


async def test_connection_refused_is_status_0() -> None:
    with socket.socket() as sock:  # a port with certainly nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with Toxiproxy(f"127.0.0.1:{port}", timeout=2.0) as tp:
        with pytest.raises(ToxiproxyError) as caught:
            await tp.proxies()
    assert caught.value.status == 0
    assert f"http://127.0.0.1:{port}/proxies" in caught.value.message
    assert str(caught.value).startswith("cannot reach Toxiproxy")


async def test_a_hanging_server_times_out(fake: Fake) -> None:
    """Toxiproxy's API can hang (deleting a toxic under traffic); calls must not."""
    fake.hang = True
    async with Toxiproxy(fake.url, timeout=0.2) as tp:
        started = time.monotonic()
        with pytest.raises(ToxiproxyError) as caught:
            await tp.remove_toxic("api-1", "latency_downstream")
        elapsed = time.monotonic() - started
    assert caught.value.status == 0
    assert "within 0.2 s" in caught.value.message
    assert 0.15 <= elapsed < 1.5  # the timeout, not the server, ended the call


# -- construction and session ownership ----------------------------------------------------------


def test_base_url_is_normalised() -> None:
    assert Toxiproxy("127.0.0.1:8474").base_url == "http://127.0.0.1:8474"
    assert Toxiproxy("http://toxiproxy:8474/").base_url == "http://toxiproxy:8474"
    assert Toxiproxy().base_url == "http://127.0.0.1:8474"


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Toxiproxy(timeout=0)


async def test_owned_session_is_closed_on_exit(fake: Fake) -> None:
    fake.answer(200, {})
    async with Toxiproxy(fake.url) as tp:
        await tp.proxies()
        session = tp._session
        assert session is not None
        open_inside = not session.closed
    assert open_inside and session.closed
    await tp.close()  # twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        await tp.proxies()


async def test_shared_session_is_left_open(fake: Fake) -> None:
    fake.answer(200, {})
    async with aiohttp.ClientSession() as session:
        async with Toxiproxy(fake.url, session=session) as tp:
            await tp.proxies()
        assert not session.closed
