"""UDP links on real sockets: sessions, loss accuracy, DNS tampering, partitions, expiry."""

from __future__ import annotations

import time

import dns.asyncquery
import dns.message
import pytest
from prometheus_client import CollectorRegistry

from chaos.proxy import ProxyServer
from chaos.proxy.proxy import ProxySpec
from chaos.proxy.stream import NetProtocol
from services.dns import DNSServer
from tests.proxy.conftest import SEED
from tests.proxy.helpers import Api, Udp, eventually, port_of


async def test_each_client_gets_its_own_replies(api: Api, server: ProxyServer, udp: Udp) -> None:
    echo, echo_port = await udp.echo(b"re:")
    proxy = await api.create("u", echo_port, protocol="udp")
    a, b = await udp.client(port_of(proxy["listen"])), await udp.client(port_of(proxy["listen"]))
    a.send(b"a")
    b.send(b"b")
    assert await a.recv() == b"re:a"
    assert await b.recv() == b"re:b"
    stats = server.proxies.stats["u"]
    assert (stats.connections, stats.active, stats.datagrams) == (2, 2, [2, 2])


async def test_loss_matches_its_probability(api: Api, server: ProxyServer, udp: Udp) -> None:
    """p = 0.3 upstream over 5,000 seeded datagrams: 30 % ± 3 points never reach the server."""
    echo, echo_port = await udp.echo()
    proxy = await api.create("lossy", echo_port, protocol="udp")
    await api.add_toxic("lossy", type="loss", stream="upstream", attributes={"probability": 0.3})
    client = await udp.client(port_of(proxy["listen"]))
    stats = server.proxies.stats["lossy"]
    for batch in range(1, 51):
        for _ in range(100):
            client.send(b"d")
        through = batch * 100
        await eventually(
            lambda: sum(stats.dropped.values()) + stats.datagrams[0] >= through,  # noqa: B023
            what="batch through the proxy",
        )
    await eventually(lambda: len(echo.received) == stats.datagrams[0], what="sink caught up")
    lost = 1 - len(echo.received) / 5000
    assert abs(lost - 0.3) <= 0.03, lost
    assert stats.dropped == {"loss": 5000 - len(echo.received)}


async def test_latency_delays_datagrams(api: Api, udp: Udp) -> None:
    echo, echo_port = await udp.echo()
    proxy = await api.create("slow", echo_port, protocol="udp")
    await api.add_toxic("slow", type="latency", attributes={"latency": 40})
    client = await udp.client(port_of(proxy["listen"]))
    samples = []
    for _ in range(10):
        start = time.perf_counter()
        client.send(b"x")
        await client.recv()
        samples.append(time.perf_counter() - start)
    assert 0.039 <= sorted(samples)[5] <= 0.045


async def test_truncate_cuts_then_drops_oversize_answers(api: Api, udp: Udp) -> None:
    echo, echo_port = await udp.echo()
    proxy = await api.create("mtu", echo_port, protocol="udp")
    await api.add_toxic("mtu", type="truncate", attributes={"max_size": 512})
    client = await udp.client(port_of(proxy["listen"]))
    client.send(b"x" * 1000)
    assert len(await client.recv()) == 512
    await api.call(
        "PATCH", "/proxies/mtu/toxics/truncate_downstream", {"attributes": {"drop": True}}
    )
    client.send(b"x" * 1000)
    client.send(b"small")
    assert await client.recv() == b"small"


async def test_duplicate_delivers_twice(api: Api, udp: Udp) -> None:
    echo, echo_port = await udp.echo()
    proxy = await api.create("dup", echo_port, protocol="udp")
    await api.add_toxic("dup", type="duplicate", stream="upstream", attributes={"copies": 1})
    client = await udp.client(port_of(proxy["listen"]))
    client.send(b"once")
    assert [await client.recv(), await client.recv()] == [b"once", b"once"]
    assert echo.received == [b"once", b"once"]


async def test_dns_rewrite_forges_the_answer_of_the_real_dns_server(api: Api) -> None:
    async with DNSServer(port=0, admin_port=0, registry=CollectorRegistry()) as dns_server:
        upstream = dns_server.endpoints["udp"]
        proxy = await api.create("dns", upstream, protocol="udp")
        port = port_of(proxy["listen"])
        query = dns.message.make_query("api-1.mesh.test.", "A")
        honest = await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=2)
        assert [r.address for r in honest.answer[0]] == ["127.0.0.1"]
        await api.add_toxic(
            "dns", type="dns_rewrite", attributes={"name": "api-1.mesh.test", "address": "10.6.6.6"}
        )
        forged = await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=2)
        assert [r.address for r in forged.answer[0]] == ["10.6.6.6"]
        other = await dns.asyncquery.udp(
            dns.message.make_query("api-2.mesh.test.", "A"), "127.0.0.1", port=port, timeout=2
        )
        assert [r.address for r in other.answer[0]] == ["127.0.0.1"]


async def test_one_direction_cut_drops_answers_only(
    api: Api, server: ProxyServer, udp: Udp
) -> None:
    echo, echo_port = await udp.echo()
    proxy = await api.create("half", echo_port, protocol="udp")
    await api.add_toxic("half", type="partition")
    client = await udp.client(port_of(proxy["listen"]))
    client.send(b"heard")
    await eventually(lambda: echo.received == [b"heard"], what="request reached the server")
    assert await client.nothing_within(0.2)
    assert server.proxies.stats["half"].dropped == {"partition": 1}
    await api.remove_toxic("half", "partition_downstream")
    client.send(b"again")
    assert await client.recv() == b"again"


async def test_disable_and_enable(api: Api, udp: Udp) -> None:
    echo, echo_port = await udp.echo()
    proxy = await api.create("u", echo_port, protocol="udp")
    client = await udp.client(port_of(proxy["listen"]))
    client.send(b"1")
    assert await client.recv() == b"1"
    await api.patch("u", enabled=False)
    client.send(b"2")
    assert await client.nothing_within(0.2)
    await api.patch("u", enabled=True)
    client.send(b"3")
    assert await client.recv() == b"3"


async def test_upstream_switch_goes_to_the_rogue(api: Api, udp: Udp) -> None:
    _, good_port = await udp.echo(b"good:")
    _, rogue_port = await udp.echo(b"rogue:")
    proxy = await api.create("ntp", good_port, protocol="udp")
    client = await udp.client(port_of(proxy["listen"]))
    client.send(b"t")
    assert await client.recv() == b"good:t"
    await api.patch("ntp", upstream=f"127.0.0.1:{rogue_port}")
    client.send(b"t")
    assert await client.recv() == b"rogue:t"


async def test_idle_sessions_expire(udp: Udp) -> None:
    async with ProxyServer(api_port=0, seed=SEED, udp_idle_timeout=0.1) as server:
        _, echo_port = await udp.echo()
        spec = ProxySpec("u", f"127.0.0.1:{echo_port}", protocol=NetProtocol.UDP)
        await server.proxies.add_or_replace(spec)
        client = await udp.client(port_of(server.proxies.get("u").listen))
        client.send(b"x")
        assert await client.recv() == b"x"
        stats = server.proxies.stats["u"]
        assert stats.active == 1
        await eventually(lambda: stats.active == 0, timeout=2, what="session expired")
        client.send(b"y")
        assert await client.recv() == b"y"
        assert stats.connections == 2


@pytest.mark.parametrize("toxic", ["slicer", "reset_peer", "slow_close"])
async def test_tcp_only_toxics_are_refused_on_udp(api: Api, toxic: str) -> None:
    await api.create("u", "127.0.0.1:9", protocol="udp")
    status, body = await api.call("POST", "/proxies/u/toxics", {"type": toxic})
    assert status == 400 and "does not support udp" in body["error"]
