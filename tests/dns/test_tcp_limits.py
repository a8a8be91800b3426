"""DNS over TCP holds no socket for a slowloris, and no client holds them all.

Found by an outside client: the idle timeout restarted on every byte, so one byte a
second kept a connection forever, and one client could open any number of them.
"""

from __future__ import annotations

import asyncio

import dns.message
from prometheus_client import CollectorRegistry

from services.dns import DNSServer
from tests.dns.helpers import close_writer, frame, read_frame


def closed_by(registry: CollectorRegistry, reason: str) -> float:
    value = registry.get_sample_value(
        "fallacies_dns_tcp_closed_connections_total", {"reason": reason}
    )
    return value or 0.0


def tcp_port(server: DNSServer) -> int:
    return int(server.endpoints["tcp"].rsplit(":", 1)[1])


async def test_a_trickle_of_bytes_does_not_keep_a_connection_open() -> None:
    registry = CollectorRegistry()
    async with DNSServer(port=0, admin_port=0, registry=registry, tcp_idle_timeout=0.5) as s:
        reader, writer = await asyncio.open_connection("127.0.0.1", tcp_port(s))
        query = frame(dns.message.make_query("api-1.mesh.test.", "A").to_wire())

        async def trickle() -> None:
            for byte in query[:-1]:  # never the whole frame
                if writer.is_closing():
                    return
                writer.write(bytes([byte]))
                await asyncio.sleep(0.05)  # the pace of the attack, not a wait

        sender = asyncio.create_task(trickle())
        try:
            # Closed within the timeout (plus a timer tick), while the trickle goes on
            # (it takes ~2.5 s): bytes without a whole query are not activity.
            assert await asyncio.wait_for(reader.read(), 5) == b""
            assert not sender.done()
        finally:
            sender.cancel()
            await close_writer(writer)
        assert closed_by(registry, "idle") == 1


async def test_whole_queries_keep_a_connection_open() -> None:
    registry = CollectorRegistry()
    async with DNSServer(port=0, admin_port=0, registry=registry, tcp_idle_timeout=0.5) as s:
        reader, writer = await asyncio.open_connection("127.0.0.1", tcp_port(s))
        try:
            for _ in range(3):
                writer.write(frame(dns.message.make_query("api-1.mesh.test.", "A").to_wire()))
                assert dns.message.from_wire(await read_frame(reader)).answer
        finally:
            await close_writer(writer)
        assert closed_by(registry, "idle") == 0


async def test_one_client_may_hold_only_so_many_connections() -> None:
    registry = CollectorRegistry()
    async with DNSServer(port=0, admin_port=0, registry=registry, tcp_max_per_client=2) as s:
        port = tcp_port(s)
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        extra_reader, extra_writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            assert await asyncio.wait_for(extra_reader.read(), 5) == b""
            assert closed_by(registry, "over_cap") == 1
            for reader, writer in held:
                writer.write(frame(dns.message.make_query("api-1.mesh.test.", "A").to_wire()))
                assert dns.message.from_wire(await read_frame(reader)).answer
        finally:
            await close_writer(extra_writer)
            for _, writer in held:
                await close_writer(writer)
        # Once one closes, a new connection is taken again.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(frame(dns.message.make_query("api-1.mesh.test.", "A").to_wire()))
            assert dns.message.from_wire(await read_frame(reader)).answer
        finally:
            await close_writer(writer)
