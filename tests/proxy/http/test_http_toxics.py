"""HTTP toxics on real sockets: per-request effects on one kept-alive connection, and HTTP/1.1
carried correctly (chunked, pipelined, 100-continue, upgrades, Connection: close)."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import h11
import pytest

from chaos.proxy import ProxyServer
from chaos.proxy.tcp_link import TcpLink
from tests.proxy.helpers import Api, port_of, tcp_server
from tests.proxy.http.upstream import upstream


@pytest.fixture
async def web(api: Api) -> AsyncIterator[str]:
    """A link named ``web`` in front of the aiohttp upstream; yields the link's base URL."""
    async with upstream() as port:
        link = await api.create("web", port)
        yield f"http://127.0.0.1:{port_of(link['listen'])}"


def one_connection(base: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=1))


def connections(server: ProxyServer, link: str = "web") -> int:
    return server.proxies.get(link).stats.connections


async def test_a_link_without_http_toxics_keeps_the_fast_path(
    server: ProxyServer, web: str
) -> None:
    async with one_connection(web) as client:
        async with client.get("/hello") as response:
            assert await response.text() == "hello, world"
        tcp = server.proxies.get("web").link
        assert isinstance(tcp, TcpLink)
        (connection,) = tcp.connections
        assert connection.fast and connection.http is None


async def test_status_toxicity_is_drawn_per_request_on_one_connection(
    server: ProxyServer, api: Api, web: str
) -> None:
    """At toxicity 0.3 over n requests on one kept-alive connection, the refused share is
    0.3 within 3σ (σ = √(p(1-p)/n)), and the others reach the upstream."""
    n, p = 3000, 0.3
    await api.add_toxic(
        "web",
        type="http_status",
        toxicity=p,
        attributes={"status": 503, "retry_after": 2, "body": "busy"},
    )
    refused = 0
    async with one_connection(web) as client:
        for _ in range(n):
            async with client.get("/hello") as response:
                body = await response.text()
                if response.status == 503:
                    refused += 1
                    assert (response.headers["Retry-After"], body) == ("2", "busy")
                else:
                    assert (response.status, body) == (200, "hello, world")
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(refused / n - p) < 3 * sigma, refused
    assert connections(server) == 1, "every request went over the one connection"


async def test_a_toxic_added_to_a_live_connection_acts_on_its_next_request(
    api: Api, web: str
) -> None:
    async with one_connection(web) as client:
        async with client.get("/hello") as response:
            assert response.status == 200
        await api.add_toxic("web", type="http_status", attributes={"status": 429})
        async with client.get("/hello") as response:
            assert response.status == 429
        await api.remove_toxic("web", "http_status_downstream")
        async with client.get("/hello") as response:
            assert (response.status, await response.text()) == (200, "hello, world")


async def test_match_on_method_and_path_prefix(api: Api, web: str) -> None:
    await api.add_toxic(
        "web", type="http_status", attributes={"status": 500, "method": "get", "path": "/hel"}
    )
    async with one_connection(web) as client:
        async with client.get("/hello") as response:
            assert response.status == 500
        async with client.get("/headers") as response:
            assert response.status == 200
        async with client.post("/echo", data=b"posted") as response:
            assert (response.status, await response.read()) == (200, b"posted")


async def test_latency_holds_only_the_matching_response_head(api: Api, web: str) -> None:
    await api.add_toxic("web", type="http_latency", attributes={"latency": 300, "path": "/chunked"})
    async with one_connection(web) as client:
        started = time.perf_counter()
        async with client.get("/hello") as response:
            await response.read()
        fast = time.perf_counter() - started
        started = time.perf_counter()
        async with client.get("/chunked") as response:
            assert await response.text() == "one two three"
        slow = time.perf_counter() - started
    assert slow >= 0.3 and fast < 0.2, (fast, slow)


async def test_upstream_latency_holds_the_request(api: Api, web: str) -> None:
    await api.add_toxic("web", type="http_latency", stream="upstream", attributes={"latency": 250})
    async with one_connection(web) as client:
        started = time.perf_counter()
        async with client.post("/echo", data=b"abc") as response:
            assert await response.read() == b"abc"
    assert time.perf_counter() - started >= 0.25


async def test_headers_are_set_added_and_removed(api: Api, web: str) -> None:
    await api.add_toxic(
        "web",
        name="inject",
        type="http_header",
        stream="upstream",
        attributes={"name": "X-Injected", "value": "yes"},
    )
    await api.add_toxic(
        "web",
        name="strip",
        type="http_header",
        attributes={"name": "X-Served-By", "action": "remove"},
    )
    await api.add_toxic(
        "web",
        name="extra",
        type="http_header",
        attributes={"name": "X-Extra", "value": "1", "action": "add"},
    )
    async with one_connection(web) as client:
        async with client.get("/headers") as response:
            assert (await response.json())["x-injected"] == "yes"
        async with client.get("/hello") as response:
            assert "X-Served-By" not in response.headers
            assert response.headers["X-Extra"] == "1"
            assert await response.text() == "hello, world"


@pytest.mark.parametrize(
    ("attributes", "path", "expected"),
    [
        ({"mode": "truncate", "bytes": 5}, "/hello", b"hello"),
        ({"mode": "truncate", "bytes": 5}, "/chunked", b"one t"),
        ({"mode": "replace", "body": "gone"}, "/hello", b"gone"),
        (
            {"mode": "replace", "body": "a longer body than before"},
            "/chunked",
            b"a longer body than before",
        ),
    ],
)
async def test_body_changes_keep_the_framing_true(
    api: Api, web: str, attributes: dict[str, Any], path: str, expected: bytes
) -> None:
    await api.add_toxic("web", type="http_body", attributes=attributes)
    async with one_connection(web) as client:
        for _ in range(2):
            async with client.get(path) as response:
                assert await response.read() == expected
                if "Content-Length" in response.headers:
                    assert int(response.headers["Content-Length"]) == len(expected)


async def test_corrupt_keeps_the_length_and_changes_one_byte_in_every_n(api: Api, web: str) -> None:
    await api.add_toxic("web", type="http_body", attributes={"mode": "corrupt", "every": 1024})
    async with one_connection(web) as client:
        async with client.get("/big", params={"bytes": str(64 * 1024)}) as response:
            body = await response.read()
    assert len(body) == 64 * 1024
    assert sum(byte != ord("x") for byte in body) == 64


async def test_a_body_shorter_than_its_length_ends_the_connection(
    server: ProxyServer, api: Api, web: str
) -> None:
    await api.add_toxic(
        "web", type="http_body", attributes={"mode": "truncate", "bytes": 4, "fix_length": False}
    )
    async with one_connection(web) as client:
        async with client.get("/hello") as response:
            assert response.headers["Content-Length"] == "12"
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()


async def test_abort_cuts_the_response_after_n_bytes_and_the_next_request_reconnects(
    server: ProxyServer, api: Api, web: str
) -> None:
    await api.add_toxic("web", type="http_abort", attributes={"bytes": 3, "path": "/hello"})
    async with one_connection(web) as client:
        with pytest.raises(aiohttp.ClientPayloadError, match="received 3 of 12"):
            async with client.get("/hello") as response:
                await response.read()
        async with client.get("/headers") as response:
            assert response.status == 200
    assert connections(server) == 2


async def test_expect_100_continue_and_websocket_upgrade_pass_through(api: Api, web: str) -> None:
    await api.add_toxic("web", type="http_header", attributes={"name": "X-Seen", "value": "1"})
    async with one_connection(web) as client:
        async with client.post("/count", data=b"y" * 5000, expect100=True) as response:
            assert (await response.json()) == {"bytes": 5000}
        async with client.ws_connect("/ws") as ws:
            for word in ("one", "two"):
                await ws.send_str(word)
                assert json.loads(await ws.receive_str()) == {"echo": word}


async def test_pipelined_and_chunked_requests_through_every_toxic(api: Api, web: str) -> None:
    """Three requests written at once, one with a chunked body, with one toxic of each kind
    acting on some of them; the answers come back complete, in order, on one connection."""
    await api.add_toxic("web", type="http_status", attributes={"status": 503, "path": "/headers"})
    await api.add_toxic("web", type="http_latency", attributes={"latency": 50})
    await api.add_toxic("web", type="http_header", attributes={"name": "X-Tag", "value": "t"})
    await api.add_toxic(
        "web",
        type="http_body",
        stream="upstream",
        attributes={"mode": "replace", "body": "swapped"},
    )
    await api.add_toxic("web", type="http_abort", attributes={"bytes": 1000, "path": "/big"})
    host = web.removeprefix("http://")
    requests = [
        b"GET /hello HTTP/1.1\r\nHost: h\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n",
        b"GET /headers HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /chunked HTTP/1.1\r\nHost: h\r\n\r\n",
    ]
    reader, writer = await asyncio.open_connection(*_split(host))
    writer.write(b"".join(requests))
    await writer.drain()
    receiver = h11.Connection(h11.CLIENT)
    answers: list[tuple[int, bytes, dict[bytes, bytes]]] = []
    for method in ("GET", "POST", "GET", "GET"):
        receiver.send(h11.Request(method=method, target="/", headers=[("Host", "h")]))
        receiver.send(h11.EndOfMessage())
        status, headers, body = 0, {}, b""
        while True:
            event = receiver.next_event()
            if event is h11.NEED_DATA:
                receiver.receive_data(await asyncio.wait_for(reader.read(65536), 5))
            elif isinstance(event, h11.Response):
                status, headers = event.status_code, dict(event.headers)
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
        answers.append((status, body, headers))
        receiver.start_next_cycle()
    writer.close()
    assert [(status, body) for status, body, _ in answers] == [
        (200, b"hello, world"),
        (200, b"swapped"),
        (503, b""),
        (200, b"one two three"),
    ]
    assert all(headers.get(b"x-tag") == b"t" for status, _, headers in answers if status == 200)


async def test_a_50_mb_body_streams_through(api: Api, web: str) -> None:
    """Up and down, through a link with an HTTP toxic; memory is judged in test_http_memory."""
    await api.add_toxic("web", type="http_header", attributes={"name": "X-Seen", "value": "1"})
    size = 50 * 1024 * 1024

    async def chunks() -> AsyncIterator[bytes]:
        block = b"z" * (1 << 20)
        for _ in range(50):
            yield block

    async with one_connection(web) as client:
        async with client.post("/count", data=chunks()) as response:
            assert (await response.json()) == {"bytes": size}
        async with client.get("/big", params={"bytes": str(size)}) as response:
            received = 0
            async for piece in response.content.iter_any():
                received += len(piece)
    assert received == size


async def test_connection_close_ends_the_connection_after_its_exchange(
    server: ProxyServer, api: Api, web: str
) -> None:
    await api.add_toxic("web", type="http_header", attributes={"name": "X-Seen", "value": "1"})
    reader, writer = await asyncio.open_connection(*_split(web.removeprefix("http://")))
    writer.write(b"GET /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"hello, world")


async def test_malformed_requests_get_a_400_and_the_link_serves_others(
    api: Api, web: str, caplog: pytest.LogCaptureFixture
) -> None:
    await api.add_toxic("web", type="http_header", attributes={"name": "X-Seen", "value": "1"})
    reader, writer = await asyncio.open_connection(*_split(web.removeprefix("http://")))
    with caplog.at_level(logging.WARNING, logger="chaos.proxy.http.relay"):
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"malformed HTTP request" in answer
    assert "link web: malformed HTTP from the client" in caplog.text
    async with one_connection(web) as client:
        async with client.get("/hello") as response:
            assert (response.status, response.headers["X-Seen"]) == (200, "1")


async def test_a_malformed_response_gets_a_502(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 2OO nope\r\n\r\n")
        await writer.drain()
        writer.close()

    bad, port = await tcp_server(garbage)
    async with bad:
        link = await api.create("bad", port)
        await api.add_toxic("bad", type="http_header", attributes={"name": "X-Seen", "value": "1"})
        async with aiohttp.ClientSession() as client:
            with caplog.at_level(logging.WARNING, logger="chaos.proxy.http.relay"):
                async with client.get(f"http://127.0.0.1:{port_of(link['listen'])}/") as response:
                    assert response.status == 502
                    assert "malformed HTTP response from the upstream" in await response.text()
    assert "link bad: malformed HTTP from the upstream" in caplog.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "http_status", "stream": "upstream"}, "works on the downstream stream only"),
        ({"type": "http_abort", "stream": "upstream"}, "works on the downstream stream only"),
        ({"type": "http_status", "attributes": {"status": 101}}, "a final status, 200 to 599"),
        ({"type": "http_header", "attributes": {"name": "Content-Length"}}, "use http_body"),
        ({"type": "http_header", "attributes": {"name": "bad name"}}, "must be a header name"),
        ({"type": "http_header", "attributes": {"name": "X", "value": "a\r\nb"}}, "on one line"),
        ({"type": "http_header", "attributes": {"name": "X", "action": "drop"}}, "one of set, add"),
        ({"type": "http_body", "attributes": {"mode": "shred"}}, "one of truncate"),
        ({"type": "http_body", "attributes": {"mode": "corrupt", "every": 0}}, "at least 1"),
        ({"type": "http_latency", "attributes": {"path": 5}}, "must be a string"),
    ],
)
async def test_bad_http_toxics_are_400s_naming_the_problem(
    api: Api, web: str, body: dict[str, Any], message: str
) -> None:
    status, answer = await api.call("POST", "/proxies/web/toxics", body)
    assert status == 400 and message in answer["error"], answer


async def test_http_toxics_are_refused_on_udp_links(api: Api, udp: Any) -> None:
    _, port = await udp.echo()
    await api.create("dns", port, protocol="udp")
    status, answer = await api.call("POST", "/proxies/dns/toxics", {"type": "http_status"})
    assert status == 400 and "does not support udp" in answer["error"]


def _split(host: str) -> tuple[str, int]:
    name, port = host.rsplit(":", 1)
    return name, int(port)


async def test_an_upstream_closing_an_idle_connection_closes_the_clients_too(
    api: Api,
) -> None:
    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await asyncio.sleep(0.1)  # the server's keep-alive timeout, made short
        writer.close()

    idle, port = await tcp_server(once)
    async with idle:
        link = await api.create("idle", port)
        await api.add_toxic("idle", type="http_header", attributes={"name": "X-A", "value": "1"})
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(link["listen"]))
        writer.write(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok")
