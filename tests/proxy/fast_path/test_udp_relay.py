"""The UDP relay reads and sends datagrams in batches (recvmmsg/sendmmsg), and stays
exact: every datagram once, in order, to the right client, counted, toxics applied
from the next datagram on.

Written before the batches existed: the relay made two syscalls per datagram
(``chaos.proxy.mmsg`` was missing and these tests failed).
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import pytest

from chaos.proxy import ProxyServer, mmsg, udp_link
from tests.proxy.helpers import Api, Udp, UdpEcho, eventually, port_of

pytestmark = pytest.mark.skipif(not mmsg.AVAILABLE, reason="no recvmmsg here")


def blocking_client(port: int, family: int = socket.AF_INET) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.connect(("::1" if family == socket.AF_INET6 else "127.0.0.1", port))
    return sock


def test_a_batch_receives_and_sends_many_datagrams_per_call() -> None:
    batch = mmsg.Batch()
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as relay,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server,
    ):
        relay.bind(("127.0.0.1", 0))
        server.bind(("127.0.0.1", 0))
        client.bind(("127.0.0.1", 0))
        for n in range(10):
            client.sendto(bytes([n]) * (n + 1), relay.getsockname())
        assert batch.receive(relay.fileno(), named=True) == 10
        assert batch.lengths == list(range(1, 11))
        assert mmsg.decode_address(batch.source(3)) == client.getsockname()
        assert batch.payload(4) == b"\x04" * 5
        dest = mmsg.encode_address(socket.AF_INET, server.getsockname())
        assert dest == _raw(server.getsockname())
        assert batch.send(relay.fileno(), 2, 9, dest=dest) == 7
        assert [server.recv(64) for _ in range(7)] == [bytes([n]) * (n + 1) for n in range(2, 9)]
        assert batch.receive(relay.fileno(), named=True) == 0, "nothing left: no error"


def _raw(address: tuple[str, int]) -> bytes:
    """A sockaddr_in as the kernel writes it, for ``Batch.send``'s ``dest``."""
    family = socket.AF_INET.to_bytes(2, "little")
    return family + address[1].to_bytes(2, "big") + socket.inet_aton(address[0]) + bytes(8)


async def test_a_burst_goes_through_in_batches_in_order_and_counted(
    api: Api, server: ProxyServer, udp: Udp, monkeypatch: pytest.MonkeyPatch
) -> None:
    echo, echo_port = await udp.echo(b">")
    proxy = await api.create("u", echo_port, protocol="udp")
    calls = {"from clients": 0, "upstream": 0}
    receive, send = mmsg.Batch.receive, mmsg.Batch.send

    def counting_receive(self: mmsg.Batch, fd: int, *, named: bool) -> int:
        with socket.socket(fileno=os.dup(fd)) as sock:
            calls["from clients"] += sock.getsockname()[1] == port_of(proxy["listen"])
        return receive(self, fd, named=named)

    def counting_send(self: mmsg.Batch, fd: int, start: int, stop: int, dest: Any = None) -> int:
        calls["upstream"] += mmsg.decode_address(dest)[1] == echo_port
        return send(self, fd, start, stop, dest)

    monkeypatch.setattr(mmsg.Batch, "receive", counting_receive)
    monkeypatch.setattr(mmsg.Batch, "send", counting_send)
    with blocking_client(port_of(proxy["listen"])) as burst:
        burst.settimeout(3)
        burst.send(b"open")  # the session's upstream socket exists before the burst
        assert await asyncio.to_thread(burst.recv, 64) == b">open"
        calls.update({"from clients": 0, "upstream": 0})
        payloads = [f"{n:04}".encode() for n in range(256)]
        for payload in payloads:  # all queued before the loop runs again
            burst.send(payload)
        replies = [await asyncio.to_thread(burst.recv, 64) for _ in payloads]
    assert echo.received[-256:] == payloads
    assert replies == [b">" + p for p in payloads]
    # Queued before the relay ran: 32 a call, so 8 reads (perhaps one more finding none)
    # and 8 sends, where one datagram a call took 256 of each.
    assert calls["from clients"] in (8, 9) and calls["upstream"] == 8, calls
    stats = server.proxies.stats["u"]
    await eventually(lambda: stats.datagrams == [257, 257])
    assert stats.received == stats.bytes == [4 + 256 * 4, 5 + 256 * 5]


async def test_interleaved_clients_each_get_their_own_answers(api: Api, udp: Udp) -> None:
    _, echo_port = await udp.echo()
    proxy = await api.create("u", echo_port, protocol="udp")
    clients = [blocking_client(port_of(proxy["listen"])) for _ in range(3)]
    try:
        for round_ in range(20):
            for n, sock in enumerate(clients):
                sock.send(f"{n}:{round_}".encode())
        for n, sock in enumerate(clients):
            sock.settimeout(3)
            got = []
            while len(got) < 20:
                got.append(await asyncio.to_thread(sock.recv, 64))
            assert got == [f"{n}:{r}".encode() for r in range(20)]
    finally:
        for sock in clients:
            sock.close()


async def test_a_toxic_applies_from_the_next_datagram(api: Api, udp: Udp) -> None:
    echo, echo_port = await udp.echo()
    proxy = await api.create("u", echo_port, protocol="udp")
    client = await udp.client(port_of(proxy["listen"]))
    client.send(b"before")
    assert await client.recv() == b"before"
    await api.add_toxic("u", type="loss", stream="downstream", attributes={"probability": 1})
    client.send(b"after")
    await eventually(lambda: echo.received[-1:] == [b"after"], what="upstream still flows")
    assert await client.nothing_within(0.2)
    await api.remove_toxic("u", "loss_downstream")
    client.send(b"again")
    assert await client.recv() == b"again"


async def test_a_largest_datagram_passes_whole(api: Api, udp: Udp) -> None:
    echo, echo_port = await udp.echo()
    proxy = await api.create("u", echo_port, protocol="udp")
    client = await udp.client(port_of(proxy["listen"]))
    payload = bytes(range(256)) * 255 + b"end"
    client.send(payload)
    assert await client.recv() == payload


async def test_ipv6_clients_are_answered(api: Api) -> None:
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.create_datagram_endpoint(UdpEcho, local_addr=("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        echo_port = transport.get_extra_info("sockname")[1]
        proxy = await api.create("u6", f"[::1]:{echo_port}", protocol="udp", listen="[::1]:0")
        with blocking_client(port_of(proxy["listen"]), socket.AF_INET6) as client:
            client.settimeout(3)
            client.send(b"six")
            assert await asyncio.to_thread(client.recv, 64) == b"six"
    finally:
        transport.close()


async def test_an_upstream_that_comes_up_late_is_reached(api: Api, udp: Udp) -> None:
    """The first datagrams meet a closed port (ICMP, ECONNREFUSED on the next send):
    once something listens there, the session carries on."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proxy = await api.create("late", port, protocol="udp")
    client = await udp.client(port_of(proxy["listen"]))
    for _ in range(3):
        client.send(b"anyone?")
        await asyncio.sleep(0.01)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(UdpEcho, local_addr=("127.0.0.1", port))
    try:
        client.send(b"hello")
        assert await client.recv() == b"hello"
    finally:
        transport.close()


async def test_without_recvmmsg_it_reads_one_by_one(
    api: Api, udp: Udp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(udp_link, "_shared_batch", lambda: None)
    _, echo_port = await udp.echo()
    proxy = await api.create("u", echo_port, protocol="udp")
    with blocking_client(port_of(proxy["listen"])) as client:
        client.settimeout(3)
        for n in range(50):
            client.send(b"%d" % n)
        got = [await asyncio.to_thread(client.recv, 64) for _ in range(50)]
    assert got == [b"%d" % n for n in range(50)]
