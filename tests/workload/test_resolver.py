"""Naive vs resilient DNS: caching forever vs TTL; dnspython's defaults vs EDNS0 and fallback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from services.dns import DNSServer, Zone
from services.workload._types import Endpoint
from services.workload.config import DnsSettings
from services.workload.errors import DnsError
from services.workload.metrics import WorkloadMetrics
from services.workload.resolver import DnsClient, NaiveResolver, ResilientResolver
from tests.workload.mesh import publish_api

SRV = "_api._tcp.mesh.test."
TXT = "big.mesh.test."
TTL = 5


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def dns_server() -> AsyncIterator[DNSServer]:
    server = DNSServer(port=0, admin_port=0, zone=Zone.default(), registry=CollectorRegistry())
    publish_api(server.zone, {"api-1": 8081, "api-2": 8082}, ttl=TTL)
    async with server:
        yield server


def settings(server: DNSServer, **overrides: Any) -> DnsSettings:
    values: dict[str, Any] = {
        "udp": server.endpoints["udp"],
        "tcp": server.endpoints["tcp"],
        "txt_name": TXT,
        "timeout_s": 0.5,
    }
    return DnsSettings(**{**values, **overrides})


def counted(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def naive(dns_settings: DnsSettings, registry: CollectorRegistry) -> NaiveResolver:
    return NaiveResolver(
        dns_settings,
        client="naive",
        metrics=WorkloadMetrics(registry),
        srv_name=SRV,
        txt_name=TXT,
    )


def resilient(
    dns_settings: DnsSettings, registry: CollectorRegistry, clock: FakeClock, **kwargs: Any
) -> ResilientResolver:
    client = DnsClient(dns_settings, client="resilient", metrics=WorkloadMetrics(registry))
    return ResilientResolver(
        client, srv_name=SRV, txt_name=TXT, timeout_s=0.5, monotonic=clock, **kwargs
    )


def ports(endpoints: tuple[Endpoint, ...]) -> set[int]:
    return {e.port for e in endpoints}


async def test_endpoints_come_from_srv_then_a(dns_server: DNSServer) -> None:
    registry = CollectorRegistry()
    endpoints = await naive(settings(dns_server), registry).resolve()
    assert sorted((e.node, e.host, e.port) for e in endpoints) == [
        ("api-1", "127.0.0.1", 8081),
        ("api-2", "127.0.0.1", 8082),
    ]
    # SRV, two A, one TXT; without EDNS (dnspython's default) the ~700-byte TXT comes
    # back with TC set, and dnspython asks again over TCP, as glibc would.
    assert (
        counted(registry, "fallacies_workload_dns_lookups_total", client="naive", transport="udp")
        == 4
    )
    assert (
        counted(registry, "fallacies_workload_dns_lookups_total", client="naive", transport="tcp")
        == 1
    )


async def test_resilient_asks_for_a_large_udp_payload(dns_server: DNSServer) -> None:
    registry = CollectorRegistry()
    await resilient(settings(dns_server), registry, FakeClock()).resolve()
    # EDNS0 with 1232 bytes keeps the TXT in one datagram.
    assert (
        counted(
            registry, "fallacies_workload_dns_lookups_total", client="resilient", transport="udp"
        )
        == 4
    )
    assert (
        counted(
            registry, "fallacies_workload_dns_lookups_total", client="resilient", transport="tcp"
        )
        == 0
    )


async def test_naive_caches_the_api_forever(dns_server: DNSServer) -> None:
    registry = CollectorRegistry()
    resolver = naive(settings(dns_server), registry)
    first = await resolver.resolve()
    publish_api(dns_server.zone, {"api-2": 9092}, ttl=0)
    resolver.invalidate()
    again = await resolver.resolve()
    assert again == first and ports(again) == {8081, 8082}
    # Only the TXT was asked again (over UDP, then TCP after the TC bit).
    assert (
        counted(registry, "fallacies_workload_dns_lookups_total", client="naive", transport="udp")
        == 5
    )
    assert (
        counted(registry, "fallacies_workload_dns_lookups_total", client="naive", transport="tcp")
        == 2
    )


async def test_resilient_re_resolves_after_the_ttl(dns_server: DNSServer) -> None:
    clock = FakeClock()
    resolver = resilient(settings(dns_server), CollectorRegistry(), clock)
    assert ports(await resolver.resolve()) == {8081, 8082}
    publish_api(dns_server.zone, {"api-2": 9092}, ttl=TTL)
    clock.now += TTL - 0.5
    assert ports(await resolver.resolve()) == {8081, 8082}
    clock.now += 1.0
    assert ports(await resolver.resolve()) == {9092}


async def test_resilient_re_resolves_on_failure(dns_server: DNSServer) -> None:
    clock = FakeClock()
    resolver = resilient(settings(dns_server), CollectorRegistry(), clock)
    await resolver.resolve()
    publish_api(dns_server.zone, {"api-2": 9092}, ttl=TTL)
    resolver.invalidate()
    assert ports(await resolver.resolve()) == {9092}


async def test_without_the_ttl_defence_it_caches_like_the_naive(dns_server: DNSServer) -> None:
    clock = FakeClock()
    resolver = resilient(settings(dns_server), CollectorRegistry(), clock, honour_ttl=False)
    await resolver.resolve()
    publish_api(dns_server.zone, {"api-2": 9092}, ttl=TTL)
    clock.now += 10 * TTL
    resolver.invalidate()
    assert ports(await resolver.resolve()) == {8081, 8082}


async def test_resilient_serves_stale_when_dns_is_gone(dns_server: DNSServer) -> None:
    clock = FakeClock()
    registry = CollectorRegistry()
    resolver = resilient(settings(dns_server), registry, clock)
    first = await resolver.resolve()
    await dns_server.stop()
    clock.now += TTL + 1
    assert await resolver.resolve() == first
    failures = sum(
        counted(
            registry,
            "fallacies_workload_dns_failures_total",
            client="resilient",
            transport=t,
            reason=r,
        )
        for t in ("udp", "tcp")
        for r in ("timeout", "network")
    )
    assert failures >= 1


async def test_a_tc_bit_sends_both_clients_to_tcp(dns_server: DNSServer) -> None:
    small = settings(dns_server, edns_payload=512)  # the 700-byte TXT no longer fits
    registry = CollectorRegistry()
    assert ports(await naive(small, registry).resolve()) == {8081, 8082}
    assert (
        counted(registry, "fallacies_workload_dns_lookups_total", client="naive", transport="tcp")
        == 1
    )

    registry = CollectorRegistry()
    assert ports(await resilient(small, registry, FakeClock()).resolve()) == {8081, 8082}
    assert (
        counted(
            registry,
            "fallacies_workload_dns_failures_total",
            client="resilient",
            transport="udp",
            reason="truncated",
        )
        == 1
    )
    assert (
        counted(
            registry, "fallacies_workload_dns_lookups_total", client="resilient", transport="tcp"
        )
        == 1
    )


async def test_without_the_fallback_defence_tc_is_a_failure(dns_server: DNSServer) -> None:
    small = settings(dns_server, edns_payload=512)
    resolver = resilient(small, CollectorRegistry(), FakeClock(), tcp_fallback=False)
    with pytest.raises(DnsError):
        await resolver.resolve()


class _Relay(asyncio.DatagramProtocol):
    """A UDP path to the server that may lose the first ``lose`` datagrams it is given
    and cut every answer to ``cut`` bytes without setting TC (fallacy 8)."""

    def __init__(self, upstream: tuple[str, int], *, cut: int | None = None, lose: int = 0):
        self.upstream = upstream
        self.cut = cut
        self.lose = lose
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.lose:
            self.lose -= 1
            return
        task = asyncio.get_running_loop().create_task(self._relay(data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _relay(self, data: bytes, addr: Any) -> None:
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[bytes] = loop.create_future()

        class Upstream(asyncio.DatagramProtocol):
            def datagram_received(self, reply: bytes, _: Any) -> None:
                if not answered.done():
                    answered.set_result(reply)

        transport, _ = await loop.create_datagram_endpoint(Upstream, remote_addr=self.upstream)
        try:
            transport.sendto(data)
            reply = await asyncio.wait_for(answered, 2.0)
        finally:
            transport.close()
        assert self.transport is not None
        self.transport.sendto(reply[: self.cut], addr)


async def relay(dns_server: DNSServer, **path: Any) -> tuple[asyncio.DatagramTransport, _Relay]:
    host, port = dns_server.endpoints["udp"].rsplit(":", 1)
    loop = asyncio.get_running_loop()
    transport, made = await loop.create_datagram_endpoint(
        lambda: _Relay((host, int(port)), **path), local_addr=("127.0.0.1", 0)
    )
    return transport, made


async def test_a_path_that_cuts_large_datagrams_needs_the_tcp_fallback(
    dns_server: DNSServer,
) -> None:
    transport, path = await relay(dns_server, cut=512)
    try:
        cut = settings(dns_server, udp=f"127.0.0.1:{transport.get_extra_info('sockname')[1]}")
        # The stub resolver never asks for more than 512 bytes: its answers pass intact.
        assert ports(await naive(cut, CollectorRegistry()).resolve()) == {8081, 8082}

        registry = CollectorRegistry()
        assert ports(await resilient(cut, registry, FakeClock()).resolve()) == {8081, 8082}
        assert (
            counted(
                registry,
                "fallacies_workload_dns_failures_total",
                client="resilient",
                transport="udp",
                reason="malformed",
            )
            == 1
        )
        assert (
            counted(
                registry,
                "fallacies_workload_dns_lookups_total",
                client="resilient",
                transport="tcp",
            )
            == 1
        )
        without = resilient(cut, CollectorRegistry(), FakeClock(), tcp_fallback=False)
        with pytest.raises(DnsError) as caught:
            await without.resolve()
        assert caught.value.reason == "malformed"
    finally:
        transport.close()
        await asyncio.gather(*path.tasks, return_exceptions=True)


async def test_the_stub_resolver_tries_again_after_a_lost_datagram(dns_server: DNSServer) -> None:
    transport, path = await relay(dns_server, lose=1)
    try:
        lossy = settings(dns_server, udp=f"127.0.0.1:{transport.get_extra_info('sockname')[1]}")
        registry = CollectorRegistry()
        assert ports(await naive(lossy, registry).resolve()) == {8081, 8082}
        # The SRV query was sent twice: dnspython's 2 s try, then a second within 5 s.
        assert (
            counted(
                registry, "fallacies_workload_dns_lookups_total", client="naive", transport="udp"
            )
            == 5
        )
    finally:
        transport.close()
        await asyncio.gather(*path.tasks, return_exceptions=True)
