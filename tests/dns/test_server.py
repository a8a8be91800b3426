"""The server on real loopback sockets, queried with dig."""

from __future__ import annotations

import asyncio
import errno
import socket

import aiohttp
import dns.message
import dns.rcode
import pytest
from prometheus_client import CollectorRegistry

from services.common.errors import PortInUseError
from services.dns import DNSServer
from tests.dns.helpers import close_writer, dig, frame, read_frame, tcp_open

TRANSPORTS = pytest.mark.parametrize("options", [(), ("+tcp",)], ids=["udp", "tcp"])


def test_endpoints_share_one_port(server: DNSServer, port: int) -> None:
    endpoints = server.endpoints
    assert endpoints["udp"] == endpoints["tcp"] == f"127.0.0.1:{port}"
    assert endpoints["admin"].startswith("http://127.0.0.1:")
    assert server.name == "dns"


@TRANSPORTS
async def test_a(port: int, options: tuple[str, ...]) -> None:
    result = await dig(port, "api-1.mesh.test", "A", *options)
    assert result.status == "NOERROR"
    assert "aa" in result.flags and "ra" not in result.flags
    assert result.values() == ["127.0.0.1"]


@TRANSPORTS
async def test_srv(port: int, options: tuple[str, ...]) -> None:
    result = await dig(port, "_api._tcp.mesh.test", "SRV", *options)
    assert result.status == "NOERROR"
    assert sorted(result.values()) == [
        "10 50 8081 api-1.mesh.test.",
        "10 50 8082 api-2.mesh.test.",
    ]


@TRANSPORTS
async def test_txt(port: int, options: tuple[str, ...]) -> None:
    result = await dig(port, "big.mesh.test", "TXT", *options)  # dig's EDNS payload is 1232
    assert result.status == "NOERROR"
    assert "tc" not in result.flags
    assert len(result.answer) == 8


@TRANSPORTS
async def test_nxdomain(port: int, options: tuple[str, ...]) -> None:
    result = await dig(port, "nope.mesh.test", "A", *options)
    assert result.status == "NXDOMAIN"
    assert "aa" in result.flags
    assert len(result.authority) == 1 and "SOA" in result.authority[0]


@TRANSPORTS
async def test_refused(port: int, options: tuple[str, ...]) -> None:
    result = await dig(port, "example.com", "A", *options)
    assert result.status == "REFUSED"
    assert "aa" not in result.flags and "ra" not in result.flags


async def test_big_txt_truncated_over_udp_whole_over_tcp(
    port: int, registry: CollectorRegistry
) -> None:
    truncated = await dig(port, "big.mesh.test", "TXT", "+noedns", "+ignore")
    assert "tc" in truncated.flags
    assert truncated.answer == []
    whole = await dig(port, "big.mesh.test", "TXT", "+noedns", "+tcp")
    assert "tc" not in whole.flags
    assert len(whole.answer) == 8
    labels = {"transport": "udp"}
    assert registry.get_sample_value("fallacies_dns_truncated_responses_total", labels) == 1.0


async def test_dig_falls_back_to_tcp_on_tc(port: int, registry: CollectorRegistry) -> None:
    result = await dig(port, "big.mesh.test", "TXT", "+noedns")
    assert len(result.answer) == 8
    tcp = {"qtype": "TXT", "rcode": "NOERROR", "transport": "tcp"}
    assert registry.get_sample_value("fallacies_dns_queries_total", tcp) == 1.0


async def test_admin_change_is_served_with_a_new_serial(server: DNSServer, port: int) -> None:
    admin = server.endpoints["admin"]
    before = await dig(port, "mesh.test", "SOA")
    async with aiohttp.ClientSession() as session:
        async with session.put(f"{admin}/records/api-1/A", json={"value": "10.1.2.3"}) as put:
            assert put.status == 200
            assert (await put.json())["serial"] == 2
        new = {"name": "api-3", "type": "A", "ttl": 1, "value": "10.1.2.4"}
        async with session.post(f"{admin}/records", json=new) as post:
            assert post.status == 201
    moved = await dig(port, "api-1.mesh.test", "A")
    assert moved.values() == ["10.1.2.3"]
    added = await dig(port, "api-3.mesh.test", "A", "+tcp")
    assert added.values() == ["10.1.2.4"] and added.answer[0].split()[1] == "1"
    after = await dig(port, "mesh.test", "SOA")
    assert before.values()[0].split()[2] == "1"
    assert after.values()[0].split()[2] == "3"


async def test_tcp_answers_pipelined_queries_on_one_connection(port: int) -> None:
    queries = [dns.message.make_query(n, "A") for n in ("api-1.mesh.test", "nope.mesh.test")]
    reader, writer = await tcp_open(port)
    writer.write(b"".join(frame(q.to_wire()) for q in queries))
    answers = [dns.message.from_wire(await read_frame(reader)) for _ in queries]
    assert [a.id for a in answers] == [q.id for q in queries]
    assert [a.rcode() for a in answers] == [dns.rcode.NOERROR, dns.rcode.NXDOMAIN]
    writer.write(frame(queries[0].to_wire())[:5])  # a frame split across writes
    writer.write(frame(queries[0].to_wire())[5:])
    assert dns.message.from_wire(await read_frame(reader)).id == queries[0].id
    await close_writer(writer)


async def test_idle_tcp_connections_are_closed(registry: CollectorRegistry) -> None:
    async with DNSServer(port=0, admin_port=0, registry=registry, tcp_idle_timeout=0.2) as server:
        port = int(server.endpoints["tcp"].rsplit(":", 1)[1])
        reader, writer = await tcp_open(port)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # EOF well before the deadline
        await close_writer(writer)


async def test_stop_closes_open_tcp_connections(registry: CollectorRegistry) -> None:
    server = DNSServer(port=0, admin_port=0, registry=registry)
    await server.start()
    port = int(server.endpoints["tcp"].rsplit(":", 1)[1])
    reader, writer = await tcp_open(port)
    await server.stop()
    await server.stop()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    await close_writer(writer)


async def test_restart_on_the_same_port(registry: CollectorRegistry) -> None:
    first = DNSServer(port=0, admin_port=0, registry=registry)
    await first.start()
    port = int(first.endpoints["udp"].rsplit(":", 1)[1])
    await first.stop()
    async with DNSServer(port=port, admin_port=0, registry=CollectorRegistry()) as second:
        assert second.endpoints["udp"] == f"127.0.0.1:{port}"


@pytest.mark.parametrize("kind", [socket.SOCK_DGRAM, socket.SOCK_STREAM], ids=["udp", "tcp"])
async def test_taken_port_raises_port_in_use_naming_it(kind: int) -> None:
    with socket.socket(socket.AF_INET, kind) as taken:
        taken.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            taken.listen()
        busy = taken.getsockname()[1]
        server = DNSServer(port=busy, admin_port=0, registry=CollectorRegistry())
        with pytest.raises(PortInUseError) as caught:
            await server.start()
    assert caught.value.port == busy
    assert f"127.0.0.1:{busy}" in str(caught.value)
    assert "address already in use" in str(caught.value)


async def test_taken_admin_port_raises_and_releases_dns_sockets() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        server = DNSServer(port=0, admin_port=busy, registry=CollectorRegistry())
        with pytest.raises(PortInUseError, match=str(busy)):
            await server.start()
    with pytest.raises(RuntimeError):
        server.endpoints  # noqa: B018


def test_ephemeral_port_retries_when_the_tcp_twin_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.dns import server as server_module

    refusals: list[int] = []

    class FlakySocket(socket.socket):
        def bind(self, address: object) -> None:
            if self.type == socket.SOCK_STREAM and not refusals:
                refusals.append(1)
                raise OSError(errno.EADDRINUSE, "Address already in use")
            super().bind(address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "socket", FlakySocket)
    udp, tcp = server_module._bind_pair("127.0.0.1", 0)
    try:
        assert refusals == [1]
        assert udp.getsockname()[1] == tcp.getsockname()[1]
    finally:
        udp.close()
        tcp.close()
