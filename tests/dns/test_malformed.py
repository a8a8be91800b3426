"""Hostile input over real sockets: nothing crashes, the next good query is answered,
and the rejects are counted."""

from __future__ import annotations

import random
import struct

import dns.message
import dns.opcode
import dns.rcode
from prometheus_client import CollectorRegistry

from tests.dns.helpers import UDPClient, close_writer, frame, read_frame, tcp_open


def malformed(registry: CollectorRegistry, transport: str, reason: str) -> float:
    value = registry.get_sample_value(
        "fallacies_dns_malformed_packets_total", {"transport": transport, "reason": reason}
    )
    assert value is not None
    return value


def pointer_loop(qid: int) -> bytes:
    return struct.pack("!6H", qid, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01"


def good_query() -> dns.message.Message:
    return dns.message.make_query("api-1.mesh.test.", "A")


def assert_answers(wire: bytes, query: dns.message.Message) -> None:
    response = dns.message.from_wire(wire)
    assert response.id == query.id
    assert response.rcode() == dns.rcode.NOERROR and response.answer


async def test_udp_garbage_then_a_good_query(port: int, registry: CollectorRegistry) -> None:
    client = await UDPClient.connect(port)
    try:
        rng = random.Random(1035)
        client.send(b"\x01\x02\x03\x04\x05")  # a truncated header: dropped
        client.send(b"")
        for _ in range(200):
            client.send(rng.randbytes(rng.randrange(1, 300)))
        client.send(pointer_loop(0xBEEF))
        query = good_query()
        client.send(query.to_wire())
        # Replies come back in order; skip the FORMERRs the random bytes earned.
        replies = [await client.receive()]
        while replies[-1][:2] != query.id.to_bytes(2, "big"):
            replies.append(await client.receive())
        assert_answers(replies[-1], query)
        assert any(r[:2] == b"\xbe\xef" and len(r) == 12 for r in replies)
        assert all(len(r) == 12 for r in replies[:-1])
    finally:
        client.close()
    assert malformed(registry, "udp", "too_short") >= 2
    assert malformed(registry, "udp", "bad_pointer") >= 1
    assert malformed(registry, "udp", "bad_wire") >= 1
    for rcode in (dns.rcode.FORMERR, dns.rcode.NOTIMP):  # random opcodes earn NOTIMP
        labels = {"qtype": "OTHER", "rcode": rcode.name, "transport": "udp"}
        expected = sum(1 for r in replies[:-1] if r[3] & 0xF == rcode)
        assert (registry.get_sample_value("fallacies_dns_queries_total", labels) or 0.0) == expected


async def test_udp_unsupported_opcode_is_notimp(port: int, registry: CollectorRegistry) -> None:
    query = dns.message.make_query("mesh.test.", "SOA")
    query.set_opcode(dns.opcode.NOTIFY)
    client = await UDPClient.connect(port)
    try:
        client.send(query.to_wire())
        reply = await client.receive()
    finally:
        client.close()
    response = dns.message.from_wire(reply)
    assert response.rcode() == dns.rcode.NOTIMP
    assert response.opcode() == dns.opcode.NOTIFY
    labels = {"qtype": "OTHER", "rcode": "NOTIMP", "transport": "udp"}
    assert registry.get_sample_value("fallacies_dns_queries_total", labels) == 1.0


async def test_udp_responses_are_not_answered(port: int, registry: CollectorRegistry) -> None:
    reflected = good_query()
    reflected.flags |= 0x8000
    query = good_query()
    client = await UDPClient.connect(port)
    try:
        client.send(reflected.to_wire())
        client.send(query.to_wire())
        assert_answers(await client.receive(), query)
    finally:
        client.close()
    assert malformed(registry, "udp", "not_query") == 1.0


async def test_tcp_garbage_frames_then_a_good_query(port: int, registry: CollectorRegistry) -> None:
    rng = random.Random(7766)
    reader, writer = await tcp_open(port)
    try:
        writer.write(frame(b""))  # empty frame: dropped
        writer.write(frame(b"\x00\x01\x02"))  # shorter than a header: dropped
        writer.write(frame(pointer_loop(0x0102)))
        assert await read_frame(reader) == struct.pack("!6H", 0x0102, 0x8101, 0, 0, 0, 0)
        writer.write(frame(b"\x00\x07" + rng.randbytes(40)))
        reply = await read_frame(reader)
        assert reply[:2] == b"\x00\x07" and len(reply) <= 42
        query = good_query()
        writer.write(frame(query.to_wire()))
        assert_answers(await read_frame(reader), query)
    finally:
        await close_writer(writer)
    assert malformed(registry, "tcp", "too_short") == 2.0
    assert malformed(registry, "tcp", "bad_pointer") == 1.0


async def test_tcp_unframed_garbage_does_not_hurt_the_next_client(port: int) -> None:
    reader, writer = await tcp_open(port)
    writer.write(random.Random(1).randbytes(5000))
    await writer.drain()
    await close_writer(writer)
    reader, writer = await tcp_open(port)
    try:
        query = good_query()
        writer.write(frame(query.to_wire()))
        assert_answers(await read_frame(reader), query)
    finally:
        await close_writer(writer)


async def test_tcp_notimp(port: int) -> None:
    query = dns.message.make_query("mesh.test.", "SOA")
    query.set_opcode(dns.opcode.UPDATE)
    reader, writer = await tcp_open(port)
    try:
        writer.write(frame(query.to_wire()))
        response = dns.message.from_wire(await read_frame(reader))
    finally:
        await close_writer(writer)
    assert response.rcode() == dns.rcode.NOTIMP and response.id == query.id
