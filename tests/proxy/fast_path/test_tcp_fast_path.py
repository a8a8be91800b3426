"""The TCP fast path: a link with no toxic relays by splice(2), and leaves it for the
toxic pipelines the moment a toxic arrives, without losing, reordering or
miscounting a byte.

Written before the fast path existed: every connection then went through the
pipelines, so ``Connection.fast`` was missing and these tests failed.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from prometheus_client import CollectorRegistry

from chaos.proxy import ProxyServer, splice_relay
from chaos.proxy.stream import Direction
from chaos.proxy.tcp_link import Connection, TcpLink
from tests.proxy.helpers import (
    Api,
    connect,
    echo_stream,
    eventually,
    read_until_closed,
    read_until_closed_or_reset,
    round_trip,
    tcp_server,
)

pytestmark = pytest.mark.skipif(not splice_relay.AVAILABLE, reason="no os.splice here")

MB = 1024 * 1024


def only_connection(server: ProxyServer, name: str) -> Connection:
    link = server.proxies.get(name).link
    assert isinstance(link, TcpLink)
    (connection,) = link.connections
    return connection


async def test_a_link_without_toxics_takes_the_fast_path(
    api: Api, server: ProxyServer, echo_port: int
) -> None:
    reader, writer = await connect(await api.create("echo", echo_port))
    await round_trip(reader, writer)
    assert only_connection(server, "echo").fast
    writer.close()

    await api.add_toxic("echo", type="latency", attributes={"latency": 1})
    reader, writer = await connect(await api.create("toxic", echo_port))
    await api.add_toxic("toxic", type="latency", attributes={"latency": 1})
    await round_trip(reader, writer)
    assert not only_connection(server, "toxic").fast
    writer.close()


async def test_a_large_transfer_arrives_intact_and_counted(
    api: Api, server: ProxyServer, registry: CollectorRegistry, echo_port: int
) -> None:
    proxy = await api.create("echo", echo_port)
    reader, writer = await connect(proxy)
    payload = os.urandom(24 * MB)

    async def send() -> None:
        writer.write(payload)
        await writer.drain()
        writer.write_eof()

    sender = asyncio.create_task(send())
    first = await reader.readexactly(1)
    assert only_connection(server, "echo").fast
    received = first + await read_until_closed(reader, timeout=30)
    await sender
    assert received == payload, "and half-close: the echo after our FIN still arrives"
    writer.close()
    stats = server.proxies.stats["echo"]
    await eventually(lambda: stats.active == 0, what="connection closed")
    assert (stats.received, stats.bytes) == ([len(payload)] * 2, [len(payload)] * 2)
    labels = {"proxy": "echo", "listener": proxy["listen"], "upstream": f"127.0.0.1:{echo_port}"}
    for name in ("toxiproxy_proxy_received_bytes_total", "toxiproxy_proxy_sent_bytes_total"):
        for direction in ("upstream", "downstream"):
            value = registry.get_sample_value(name, {**labels, "direction": direction})
            assert value == len(payload), (name, direction)


async def test_a_toxic_added_mid_stream_delays_the_following_bytes(
    api: Api, server: ProxyServer, echo_port: int
) -> None:
    reader, writer = await connect(await api.create("echo", echo_port))
    try:
        assert await round_trip(reader, writer) < 0.05
        connection = only_connection(server, "echo")
        assert connection.fast
        await api.add_toxic("echo", type="latency", attributes={"latency": 100})
        assert not connection.fast
        assert await round_trip(reader, writer, b"after") >= 0.095
        await api.remove_toxic("echo", "latency_downstream")
        assert await round_trip(reader, writer, b"removed") < 0.05
    finally:
        writer.close()


async def test_bytes_held_in_the_fast_path_go_through_the_new_toxic(
    api: Api, server: ProxyServer
) -> None:
    """The client does not read, so the relay stops with bytes in its pipe; a toxic
    arrives; every byte still comes out, once, in order, and is counted once."""
    payload = os.urandom(16 * MB)

    async def source(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(payload)
        await writer.drain()
        writer.close()

    upstream, port = await tcp_server(source)
    async with upstream:
        reader, writer = await connect(await api.create("bulk", port))
        stats = server.proxies.stats["bulk"]
        down = Direction.DOWNSTREAM
        await eventually(lambda: stats.received[down] > stats.bytes[down] > 0, what="bytes held")
        assert only_connection(server, "bulk").fast
        await api.add_toxic("bulk", type="latency", attributes={"latency": 5})
        assert not only_connection(server, "bulk").fast
        received = await read_until_closed(reader, timeout=30)
        writer.close()
    assert received == payload
    assert (stats.received[down], stats.bytes[down]) == (len(payload), len(payload))


async def test_a_stream_survives_leaving_the_fast_path(
    api: Api, server: ProxyServer, echo_port: int
) -> None:
    reader, writer = await connect(await api.create("echo", echo_port))
    payload = os.urandom(4 * MB)
    tasks, received = echo_stream(reader, writer, payload)
    await eventually(lambda: len(received) > len(payload) // 4, timeout=10, what="a quarter back")
    assert only_connection(server, "echo").fast
    await api.add_toxic(
        "echo",
        type="slicer",
        stream="upstream",
        attributes={"average_size": 4000, "size_variation": 100},
    )
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert bytes(received) == payload
    assert not only_connection(server, "echo").fast
    writer.close()


async def test_half_close_from_either_side(api: Api, server: ProxyServer) -> None:
    """Client FIN: the server's answer still arrives. Server FIN: the client can still send."""
    heard: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def counter(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.readexactly(1)
        if first == b"c":  # the client will half-close: answer after its FIN
            data = await reader.read()
            writer.write(f"got {len(data)}".encode())
        else:  # half-close first, then listen
            writer.write(b"bye")
            writer.write_eof()
            heard.set_result(await reader.read())
        await writer.drain()
        writer.close()

    upstream, port = await tcp_server(counter)
    async with upstream:
        proxy = await api.create("half", port)
        reader, writer = await connect(proxy)
        writer.write(b"c" + b"z" * 100_000)
        writer.write_eof()
        assert await read_until_closed(reader) == b"got 100000"
        writer.close()

        reader, writer = await connect(proxy)
        writer.write(b"s")
        assert await read_until_closed(reader) == b"bye"
        assert only_connection(server, "half").fast
        writer.write(b"still here")
        writer.write_eof()
        assert await asyncio.wait_for(heard, 3) == b"still here"
        writer.close()
    stats = server.proxies.stats["half"]
    await eventually(lambda: stats.active == 0, what="both connections closed")


@pytest.mark.parametrize("how", ["delete", "disable", "upstream"])
async def test_changing_the_link_closes_fast_path_connections(
    api: Api, server: ProxyServer, echo_port: int, how: str
) -> None:
    proxy = await api.create("echo", echo_port)
    reader, writer = await connect(proxy)
    await round_trip(reader, writer)
    assert only_connection(server, "echo").fast
    if how == "delete":
        status, _ = await api.call("DELETE", "/proxies/echo")
        assert status == 204
    elif how == "disable":
        await api.patch("echo", enabled=False)
    else:
        await api.patch("echo", upstream=f"localhost:{echo_port}", listen=proxy["listen"])
    assert await read_until_closed_or_reset(reader) == b""
    writer.close()
    await eventually(lambda: server.proxies.stats["echo"].active == 0, what="connection gone")


async def test_an_upstream_reset_closes_the_client(api: Api, server: ProxyServer) -> None:
    async def resetter(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(4)
        writer.transport.abort()

    upstream, port = await tcp_server(resetter)
    async with upstream:
        reader, writer = await connect(await api.create("rst", port))
        writer.write(b"boom")
        assert await read_until_closed_or_reset(reader) == b""
        writer.close()
    await eventually(lambda: server.proxies.stats["rst"].active == 0, what="connection gone")


async def test_without_splice_the_pipelines_carry_it(
    api: Api, server: ProxyServer, echo_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(splice_relay, "AVAILABLE", False)
    reader, writer = await connect(await api.create("echo", echo_port))
    assert await round_trip(reader, writer, b"plain") < 1
    assert not only_connection(server, "echo").fast
    writer.close()
