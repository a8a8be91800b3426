"""TCP links on real sockets: relaying, every toxic's visible effect, accuracy, live changes.

Tolerances are stated where timing is measured; waits are polls with deadlines.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import time

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from chaos.proxy import ProxyServer
from tests.proxy.conftest import SEED
from tests.proxy.helpers import (
    Api,
    banner_handler,
    connect,
    echo_stream,
    eventually,
    read_until_closed,
    read_until_closed_or_reset,
    round_trip,
    tcp_server,
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_relays_a_large_stream_intact(api: Api, echo_port: int) -> None:
    reader, writer = await connect(await api.create("echo", echo_port))
    payload = os.urandom(8 * 1024 * 1024)

    async def send() -> None:
        writer.write(payload)
        await writer.drain()
        writer.write_eof()

    sender = asyncio.create_task(send())
    received = await read_until_closed(reader, timeout=20)
    await sender
    assert received == payload, "half-close: the echo after our FIN still arrives"
    writer.close()


async def test_latency_adds_its_delay_at_the_median(api: Api, echo_port: int) -> None:
    """L = 100 ms downstream adds 100 ms ± max(2 ms, 5 %) to the median of 30 round trips.

    100 ms rather than 50: on this project's VMs a bare ``asyncio.sleep(0.05)`` was
    measured at 52.6 ms at the median, timer slack the proxy can only partly correct.
    """
    reader, writer = await connect(await api.create("echo", echo_port))
    try:
        base = statistics.median([await round_trip(reader, writer) for _ in range(30)])
        await api.add_toxic("echo", type="latency", attributes={"latency": 100})
        with_latency = statistics.median([await round_trip(reader, writer) for _ in range(30)])
    finally:
        writer.close()
    added_ms = (with_latency - base) * 1000
    assert abs(added_ms - 100) <= max(2.0, 0.05 * 100), added_ms


async def test_bandwidth_holds_the_rate_over_two_seconds(api: Api) -> None:
    """R = 500 KB/s downstream: 1,000,000 bytes take 2 s ± 10 %."""
    size = 1_000_000

    async def source(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(1)
        writer.write(b"b" * size)
        await writer.drain()
        writer.close()

    server, port = await tcp_server(source)
    async with server:
        proxy = await api.create("bulk", port)
        await api.add_toxic("bulk", type="bandwidth", attributes={"rate": 500})
        reader, writer = await connect(proxy)
        start = time.perf_counter()
        writer.write(b"go")
        received = await read_until_closed(reader, timeout=10)
        elapsed = time.perf_counter() - start
        writer.close()
    assert len(received) == size
    rate = size / elapsed / 1000
    assert abs(rate - 500) <= 50, f"{rate:.0f} KB/s"


async def test_toxics_reach_live_connections_and_leave_without_losing_bytes(
    api: Api, echo_port: int
) -> None:
    reader, writer = await connect(await api.create("echo", echo_port))
    assert await round_trip(reader, writer) < 0.03
    await api.add_toxic("echo", type="latency", attributes={"latency": 60})
    assert await round_trip(reader, writer) >= 0.06
    await api.remove_toxic("echo", "latency_downstream")
    assert await round_trip(reader, writer) < 0.03

    payload = os.urandom(2 * 1024 * 1024)
    tasks, received = echo_stream(reader, writer, payload)
    for body in (
        {"type": "latency", "attributes": {"latency": 5, "jitter": 3}},
        {
            "type": "slicer",
            "stream": "upstream",
            "attributes": {"average_size": 700, "size_variation": 100},
        },
        {"type": "bandwidth", "name": "bw", "attributes": {"rate": 20000}},
    ):
        await api.add_toxic("echo", **body)
        await asyncio.sleep(0.02)
    for name in ("slicer_upstream", "latency_downstream", "bw"):
        await api.remove_toxic("echo", name)
        await asyncio.sleep(0.02)
    await asyncio.wait_for(asyncio.gather(*tasks), 20)
    assert bytes(received) == payload
    writer.close()


async def test_timeout_zero_holds_the_connection_silently(api: Api, echo_port: int) -> None:
    reader, writer = await connect(await api.create("echo", echo_port))
    await api.add_toxic("echo", type="timeout", attributes={"timeout": 0})
    writer.write(b"hello?")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.3)
    assert not reader.at_eof()
    await api.remove_toxic("echo", "timeout_downstream")
    assert await read_until_closed(reader) == b"", "removing a timeout closes what it held"
    writer.close()


async def test_timeout_closes_after_its_delay(api: Api, echo_port: int) -> None:
    proxy = await api.create("echo", echo_port)
    await api.add_toxic("echo", type="timeout", attributes={"timeout": 200})
    reader, writer = await connect(proxy)
    start = time.perf_counter()
    writer.write(b"dropped")
    assert await read_until_closed(reader) == b""
    assert 0.18 <= time.perf_counter() - start <= 1.0
    writer.close()


async def test_reset_peer_resets(api: Api, echo_port: int) -> None:
    proxy = await api.create("echo", echo_port)
    await api.add_toxic("echo", type="reset_peer", attributes={"timeout": 0})
    reader, writer = await connect(proxy)
    writer.write(b"boom")
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(100), 3)
    writer.close()


async def test_reset_peer_applies_to_a_live_connection(api: Api, echo_port: int) -> None:
    reader, writer = await connect(await api.create("echo", echo_port))
    await round_trip(reader, writer)
    await api.add_toxic("echo", type="reset_peer", stream="upstream", attributes={"timeout": 50})
    writer.write(b"boom")
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(100), 3)
    writer.close()


async def test_slicer_slices(api: Api) -> None:
    server, port = await tcp_server(banner_handler(bytes(1000), close=True))
    async with server:
        proxy = await api.create("sliced", port)
        await api.add_toxic(
            "sliced",
            type="slicer",
            attributes={"average_size": 100, "size_variation": 10, "delay": 10_000},
        )
        reader, writer = await connect(proxy)
        reads = []
        while data := await asyncio.wait_for(reader.read(65536), 3):
            reads.append(len(data))
        writer.close()
    assert sum(reads) == 1000
    assert max(reads) <= 110 and len(reads) >= 9, reads


async def test_limit_data_closes_after_n_bytes(api: Api) -> None:
    server, port = await tcp_server(banner_handler(b"x" * 100))
    async with server:
        proxy = await api.create("limited", port)
        await api.add_toxic("limited", type="limit_data", attributes={"bytes": 10})
        reader, writer = await connect(proxy)
        assert await read_until_closed(reader) == b"x" * 10
        writer.close()


async def test_slow_close_delays_the_close(api: Api) -> None:
    server, port = await tcp_server(banner_handler(b"bye", close=True))
    async with server:
        proxy = await api.create("slow", port)
        await api.add_toxic("slow", type="slow_close", attributes={"delay": 300})
        start = time.perf_counter()
        reader, writer = await connect(proxy)
        assert await asyncio.wait_for(reader.readexactly(3), 1) == b"bye"
        assert time.perf_counter() - start < 0.2
        assert await read_until_closed(reader) == b""
        assert 0.3 <= time.perf_counter() - start <= 1.0
        writer.close()


async def test_disabling_is_a_full_partition(api: Api, echo_port: int) -> None:
    proxy = await api.create("echo", echo_port)
    reader, writer = await connect(proxy)
    await round_trip(reader, writer)
    await api.patch("echo", enabled=False)
    assert await read_until_closed_or_reset(reader) == b""
    writer.close()
    with pytest.raises(OSError):
        await connect(proxy)
    again = await api.patch("echo", enabled=True)
    assert again["listen"] == proxy["listen"]
    reader, writer = await connect(again)
    await round_trip(reader, writer)
    writer.close()


async def test_one_direction_cut_holds_requests_and_keeps_answers_flowing(api: Api) -> None:
    async def ticker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def tick() -> None:
            while not writer.is_closing():
                writer.write(b"t")
                await asyncio.sleep(0.02)

        task = asyncio.create_task(tick())
        try:
            while data := await reader.read(100):
                writer.write(data.upper())
        finally:
            task.cancel()
            writer.close()

    server, port = await tcp_server(ticker)
    async with server:
        reader, writer = await connect(await api.create("cut", port))
        await api.add_toxic("cut", type="partition", stream="upstream")
        writer.write(b"q")
        await asyncio.sleep(0.15)
        seen = await reader.read(1000)
        assert seen and set(seen) == {ord("t")}, "downstream flows, the request is held"
        await api.remove_toxic("cut", "partition_upstream")
        got = b""
        while b"Q" not in got:
            got += await asyncio.wait_for(reader.read(100), 2)
        writer.close()


async def test_upstream_switch_redirects_new_connections(api: Api) -> None:
    good, good_port = await tcp_server(banner_handler(b"GOOD"))
    rogue, rogue_port = await tcp_server(banner_handler(b"ROGUE"))
    async with good, rogue:
        proxy = await api.create("api-1", good_port)
        reader, writer = await connect(proxy)
        assert await reader.readexactly(4) == b"GOOD"
        switched = await api.patch("api-1", upstream=f"127.0.0.1:{rogue_port}")
        assert switched["listen"] == proxy["listen"]
        assert await read_until_closed(reader) == b"", "live connections are dropped"
        writer.close()
        reader, writer = await connect(proxy)
        assert await reader.readexactly(5) == b"ROGUE"
        writer.close()


async def test_unreachable_upstream_closes_the_client(api: Api, server: ProxyServer) -> None:
    proxy = await api.create("down", free_port())
    reader, writer = await connect(proxy)
    assert await read_until_closed(reader) == b""
    writer.close()
    assert server.proxies.stats["down"].upstream_errors == 1


async def _fates(api: Api, echo_port: int, connections: int = 12) -> list[bool]:
    """Slow or not, per connection, with a 50 %-toxic 150 ms latency; each connection
    makes two round trips, and both must share its fate (half the latency tells them
    apart even on a loaded machine)."""
    proxy = await api.create("echo", echo_port)
    await api.add_toxic("echo", type="latency", toxicity=0.5, attributes={"latency": 150})
    fates = []
    for _ in range(connections):
        reader, writer = await connect(proxy)
        slow = [await round_trip(reader, writer) >= 0.075 for _ in range(2)]
        writer.close()
        assert slow[0] == slow[1], "toxicity is drawn per connection, not per chunk"
        fates.append(slow[0])
    return fates


async def test_toxicity_is_per_connection_and_seeded(api: Api, echo_port: int) -> None:
    fates = await _fates(api, echo_port)
    assert 2 <= sum(fates) <= 10
    # The same seed draws the same fates, connection after connection; another does not.
    for seed, same in ((SEED, True), (SEED + 1, False)):
        async with ProxyServer(api_port=0, seed=seed, registry=CollectorRegistry()) as other:
            async with aiohttp.ClientSession(base_url=other.api_url) as session:
                again = await _fates(Api(session), echo_port)
        assert (again == fates) is same, (seed, fates, again)


async def test_connections_are_counted(api: Api, server: ProxyServer, echo_port: int) -> None:
    proxy = await api.create("echo", echo_port)
    stats = server.proxies.stats["echo"]
    reader, writer = await connect(proxy)
    await round_trip(reader, writer, b"12345")
    assert (stats.connections, stats.active, stats.bytes) == (1, 1, [5, 5])
    writer.close()
    await eventually(lambda: stats.active == 0, what="connection closed")
