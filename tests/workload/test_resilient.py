"""The resilient client's request logic in isolation: hedging, retries, the hedge delay."""

from __future__ import annotations

import asyncio

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from prometheus_client import CollectorRegistry

from services.workload._types import Endpoint
from services.workload.client import Shared
from services.workload.config import WorkloadConfig
from services.workload.errors import Refused, RequestFailed
from services.workload.http import Reply, Tally
from services.workload.keys import KeyBook
from services.workload.metrics import WorkloadMetrics
from services.workload.resilient import Op, ResilientClient
from services.workload.resolver import EndpointOracle

A = Endpoint("api-1", "127.0.0.1", 8081)
B = Endpoint("api-2", "127.0.0.1", 8082)


class StubResolver:
    def __init__(self) -> None:
        self.invalidated = 0

    async def resolve(self) -> tuple[Endpoint, ...]:
        return (A, B)

    def invalidate(self) -> None:
        self.invalidated += 1


def reply(endpoint: Endpoint, status: int = 200) -> Reply:
    return Reply(endpoint, "GET", "/x", status, CIMultiDictProxy(CIMultiDict()), b"{}", 0.001)


def make_client(**resilient: object) -> tuple[ResilientClient, CollectorRegistry, StubResolver]:
    registry = CollectorRegistry()
    config = WorkloadConfig.from_dict(
        {"resilient": {"backoff_base_s": 0.001, "backoff_cap_s": 0.002, **resilient}, "seed": 3}
    )
    shared = Shared(
        metrics=WorkloadMetrics(registry, replicas=("api-1", "api-2")),
        key_book=KeyBook({}),
        oracle=EndpointOracle(config.dns, srv_name=config.api.srv_name),
    )
    client = ResilientClient(config, shared, seed=3)
    resolver = StubResolver()
    client.resolver = resolver  # type: ignore[assignment]
    return client, registry, resolver


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_a_slow_replica_is_hedged_and_the_hedge_wins() -> None:
    client, registry, _ = make_client(hedge_delay_s=0.01)
    cancelled: list[Endpoint] = []
    primary: list[Endpoint] = []

    async def one(endpoint: Endpoint, op: Op, tally: Tally) -> Reply:
        if not primary:
            primary.append(endpoint)
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.append(endpoint)
                raise
        return reply(endpoint)

    client._one = one  # type: ignore[method-assign]
    answer = await asyncio.wait_for(client.call(Op("GET", "/x", hedge=True), Tally()), 2)
    assert answer.endpoint != primary[0]
    assert cancelled == primary
    assert value(registry, "workload_hedges_total", client="resilient", outcome="won") == 1


async def test_writes_are_never_hedged() -> None:
    client, registry, _ = make_client(hedge_delay_s=0.0)
    calls: list[Endpoint] = []

    async def one(endpoint: Endpoint, op: Op, tally: Tally) -> Reply:
        calls.append(endpoint)
        await asyncio.sleep(0.05)
        return reply(endpoint)

    client._one = one  # type: ignore[method-assign]
    await client.call(Op("PUT", "/kv/k", b"{}", {"Idempotency-Key": "k1"}), Tally())
    assert len(calls) == 1
    assert value(registry, "workload_hedges_total", client="resilient", outcome="won") == 0


async def test_failures_are_retried_elsewhere_with_the_same_idempotency_key() -> None:
    client, registry, resolver = make_client(max_attempts=3)
    seen: list[tuple[Endpoint, str]] = []

    async def one(endpoint: Endpoint, op: Op, tally: Tally) -> Reply:
        seen.append((endpoint, op.headers["Idempotency-Key"]))
        if len(seen) == 1:
            raise RequestFailed(endpoint, "network", "reset")
        return reply(endpoint)

    client._one = one  # type: ignore[method-assign]
    await client.call(Op("PUT", "/kv/k", b"{}", {"Idempotency-Key": "k1"}), Tally())
    assert [key for _, key in seen] == ["k1", "k1"]
    assert seen[0][0] != seen[1][0]
    assert resolver.invalidated == 1
    assert value(registry, "workload_retries_total", client="resilient") == 1


async def test_retries_are_bounded_and_the_last_error_surfaces() -> None:
    client, registry, _ = make_client(max_attempts=3)

    async def one(endpoint: Endpoint, op: Op, tally: Tally) -> Reply:
        raise Refused(endpoint, 503, None, "overloaded")

    client._one = one  # type: ignore[method-assign]
    with pytest.raises(Refused):
        await client.call(Op("GET", "/x"), Tally())
    assert value(registry, "workload_retries_total", client="resilient") == 2


async def test_a_refusal_of_the_client_is_not_retried() -> None:
    client, registry, _ = make_client()

    async def one(endpoint: Endpoint, op: Op, tally: Tally) -> Reply:
        return reply(endpoint, 403)

    client._one = one  # type: ignore[method-assign]
    with pytest.raises(Refused) as caught:
        await client.call(Op("GET", "/x"), Tally())
    assert caught.value.status == 403
    assert value(registry, "workload_retries_total", client="resilient") == 0


def test_the_hedge_delay_follows_the_p95_of_recent_latencies() -> None:
    client, _, _ = make_client(hedge_min_delay_s=0.001)
    assert client.hedge_delay() == pytest.approx(0.1)  # not enough samples yet
    for i in range(100):
        client.latencies.add((i + 1) / 1000)
    assert client.hedge_delay() == pytest.approx(0.096)
    fixed, _, _ = make_client(hedge_delay_s=0.25)
    assert fixed.hedge_delay() == 0.25


def test_switching_defences_off() -> None:
    registry = CollectorRegistry()
    config = WorkloadConfig.from_dict(
        {"defences": {"timeouts": False, "retries": False, "ewma": False}}
    )
    shared = Shared(
        metrics=WorkloadMetrics(registry),
        key_book=KeyBook({}),
        oracle=EndpointOracle(config.dns, srv_name=config.api.srv_name),
    )
    client = ResilientClient(config, shared)
    assert client.deadline_s is None and client.request_timeout_s is None
    assert client.backoff.max_attempts == 1
    assert type(client.balancer).__name__ == "RoundRobin"
