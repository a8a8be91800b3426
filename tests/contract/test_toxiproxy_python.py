"""The ecosystem's Python client, toxiproxy-python 0.1.1, works against both servers.

It is synchronous (``requests``, no timeouts) and keeps the server's host and port
in class attributes, so each test runs it in a worker thread while the server and
the upstream keep running on the event loop, bounds it with a deadline, and puts
the class attributes back afterwards. The project drives its proxies with
``chaos.toxiproxy``; this suite only proves that users' existing scripts keep working.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

from tests.conftest import REQUIRE_TOOLS
from tests.contract.conftest import Backend
from tests.contract.helpers import Upstream, close, connect, roundtrip

T = TypeVar("T")
THREAD_DEADLINE = 20.0


def _import_toxiproxy_python() -> tuple[ModuleType, ModuleType, ModuleType]:
    try:
        import toxiproxy.api  # type: ignore[import-untyped]
        import toxiproxy.exceptions  # type: ignore[import-untyped]
        import toxiproxy.server  # type: ignore[import-untyped]
    except ImportError:
        message = "toxiproxy-python is not installed (pip install 'toxiproxy-python==0.1.1')"
        if REQUIRE_TOOLS:
            pytest.fail(f"{message}; it is a test dependency")
        pytest.skip(message)
    return toxiproxy.server, toxiproxy.api, toxiproxy.exceptions


@contextmanager
def _pointed_at(api_module: ModuleType, url: str) -> Iterator[None]:
    """Point the library's global ``APIConsumer`` at ``url`` and restore it afterwards."""
    consumer = api_module.APIConsumer
    saved = consumer.host, consumer.port
    parts = urlsplit(url)
    consumer.host, consumer.port = parts.hostname, parts.port
    try:
        yield
    finally:
        consumer.host, consumer.port = saved


async def _in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.wait_for(asyncio.to_thread(fn), THREAD_DEADLINE)


async def test_lists_creates_and_adds_a_latency_toxic(backend: Backend, echo: Upstream) -> None:
    server, api, _ = _import_toxiproxy_python()

    def drive() -> dict[str, Any]:
        with _pointed_at(api, backend.url):
            client = server.Toxiproxy()
            before = client.proxies()
            proxy = client.create(upstream=echo.address, name="api-1", listen="127.0.0.1:0")
            proxy.add_toxic(type="latency", attributes={"latency": 200, "jitter": 0})
            listed = client.proxies()
            toxic = listed["api-1"].get_toxic("latency_downstream")
            return {
                "before": before,
                "listen": proxy.listen,
                "names": sorted(listed),
                "toxic": (toxic.type, toxic.stream, toxic.toxicity, toxic.attributes),
            }

    seen = await _in_thread(drive)
    assert seen["before"] == {}
    assert seen["names"] == ["api-1"]
    assert seen["toxic"] == ("latency", "downstream", 1, {"latency": 200, "jitter": 0})

    # The toxic it added is a real one: the link through its proxy is 200 ms slower.
    reader, writer = await connect(seen["listen"])
    try:
        assert await roundtrip(reader, writer) >= 0.19
    finally:
        await close(writer)
    [toxic] = await backend.client.toxics("api-1")
    assert (toxic.name, dict(toxic.attributes)) == (
        "latency_downstream",
        {"latency": 200, "jitter": 0},
    )


async def test_enable_disable_reset_and_cleanup(backend: Backend, echo: Upstream) -> None:
    """The rest of its surface: POST-style enable/disable, reset, version, errors, destroy."""
    server, api, errors = _import_toxiproxy_python()

    def drive() -> dict[str, Any]:
        with _pointed_at(api, backend.url):
            client = server.Toxiproxy()
            seen: dict[str, Any] = {"running": client.running(), "version": client.version()}
            proxy = client.create(upstream=echo.address, name="api-1", listen="127.0.0.1:0")
            with proxy.down():
                seen["while_down"] = client.get_proxy("api-1").enabled
            seen["after_down"] = client.get_proxy("api-1").enabled
            proxy.add_toxic(type="timeout", stream="upstream", attributes={"timeout": 0})
            for bad, exc in (("no_such_toxic", errors.InvalidToxic),):
                with pytest.raises(exc):
                    proxy.add_toxic(type=bad)
            proxy.disable()
            seen["reset"] = client.reset()
            seen["after_reset"] = (
                client.get_proxy("api-1").enabled,
                sorted(client.get_proxy("api-1").toxics()),
            )
            seen["destroyed"] = proxy.destroy()
            with pytest.raises(errors.NotFound):
                proxy.destroy()
            seen["left"] = client.proxies()
            return seen

    seen = await _in_thread(drive)
    assert seen["running"] is True
    assert b"version" in seen["version"]
    assert (seen["while_down"], seen["after_down"]) == (False, True)
    assert seen["reset"] is True
    assert seen["after_reset"] == (True, [])
    assert seen["destroyed"] is True
    assert seen["left"] == {}
    assert await backend.client.proxies() == {}
