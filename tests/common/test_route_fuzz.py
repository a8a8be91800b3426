"""Every route of every admin, fault and data API, fuzzed: never a 5xx, still healthy after.

Property-based (hypothesis, derandomized so CI sees the same cases): a route from the
running app's own route table, its path parameters drawn from any text, a method it
takes, and a body that is nothing, arbitrary bytes or arbitrary JSON. The one 500
allowed is Toxiproxy's own, for a listen that failed ("listen tcp ...").
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.proxy import ProxyServer
from services.api import ApiConfig, ApiServer
from services.common.base import Service
from services.dns import DNSServer
from services.ntp import NTPServer

FACTORIES: dict[str, Callable[[], Service]] = {
    "dns": lambda: DNSServer(port=0, admin_port=0),
    "ntp": lambda: NTPServer(port=0, admin_port=0),
    "proxy": lambda: ProxyServer(api_port=0),
    "api": lambda: ApiServer(
        config=ApiConfig.from_dict({"replica_id": "api-1", "port": 0, "admin_port": 0})
    ),
}

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


class Running:
    """A service on an event loop of its own thread, so hypothesis can drive it synchronously."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Running:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.service.start(), self.loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.service.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def apps(self) -> Iterator[tuple[str, web.Application]]:
        """(base URL, app) of every HTTP site the service runs."""
        runners: list[web.AppRunner] = []
        for value in vars(self.service).values():
            if isinstance(value, web.AppRunner):
                runners.append(value)
            elif isinstance(value, list):
                runners += [v for v in value if isinstance(v, web.AppRunner)]
        for runner in runners:
            for site in runner.sites:
                server = getattr(site, "_server", None)
                host, port = server.sockets[0].getsockname()[:2]  # type: ignore[union-attr]
                yield f"http://{host}:{port}", runner.app


def routes(running: Running) -> list[tuple[str, str, str]]:
    found = []
    for base, app in running.apps():
        for route in app.router.routes():
            info = route.resource.get_info() if route.resource is not None else {}
            template = info.get("formatter") or info.get("path")
            if template and route.method != "*":
                found.append((base, route.method, template))
    return sorted(set(found))


def call(method: str, url: str, body: bytes | None, content_type: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def fill(template: str, values: list[str]) -> str:
    parts = template.split("{")
    out = parts[0]
    for index, part in enumerate(parts[1:]):
        _, _, rest = part.partition("}")
        out += urllib.parse.quote(values[index % len(values)] or "x", safe="") + rest
    return out


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_no_route_answers_5xx_and_the_service_stays_healthy(name: str) -> None:
    with Running(FACTORIES[name]()) as running:
        table = routes(running)
        assert table, name

        @settings(
            max_examples=150,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(
            route=st.sampled_from(table),
            values=st.lists(st.text(max_size=30), min_size=1, max_size=3),
            body=st.one_of(
                st.none(),
                st.binary(max_size=200),
                JSON.map(lambda v: json.dumps(v).encode()),
                st.integers(1, 60_000).map(lambda n: b"[" * n + b"]" * n),
            ),
            content_type=st.sampled_from(["application/json", "application/octet-stream"]),
        )
        def fuzz(
            route: tuple[str, str, str], values: list[str], body: bytes | None, content_type: str
        ) -> None:
            base, method, template = route
            status, answer = call(method, base + fill(template, values), body, content_type)
            if status >= 500:
                assert name == "proxy" and b"listen " in answer, (method, template, answer[:300])

        fuzz()
        for base, app in running.apps():
            paths = {r.resource.canonical for r in app.router.routes() if r.resource}
            health = "/healthz" if "/healthz" in paths else "/version"
            if health in paths:
                status, _ = call("GET", base + health, None, "application/json")
                assert status == 200, base


def test_fill_quotes_every_parameter() -> None:
    assert fill("/records/{name}/{type}", ["a/b", "TXT"]) == "/records/a%2Fb/TXT"
    assert fill("/proxies", ["x"]) == "/proxies"
