"""The resilient client's request logic in isolation: hedging, retries, the hedge delay."""

from __future__ import annotations

import asyncio
import time

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from prometheus_client import CollectorRegistry

from services.workload._types import Endpoint
from services.workload.client import Shared
from services.workload.config import WorkloadConfig
from services.workload.errors import ForgedResponse, Refused, RequestFailed
from services.workload.http import Reply, Tally
from services.workload.keys import KeyBook
from services.workload.metrics import WorkloadMetrics
from services.workload.resilient import Op, ResilientClient
from services.workload.resolver import EndpointOracle
from tests.polling import eventually

A = Endpoint("api-1", "127.0.0.1", 8081)
B = Endpoint("api-2", "127.0.0.1", 8082)


class StubResolver:
    def __init__(self) -> None:
        self.invalidated = 0

    async def resolve(self) -> tuple[Endpoint, ...]:
        return (A, B)

    def invalidate(self) -> None:
        self.invalidated += 1


def reply(endpoint: Endpoint, status: int = 200, elapsed: float = 0.001) -> Reply:
    return Reply(endpoint, "GET", "/x", status, CIMultiDictProxy(CIMultiDict()), b"{}", elapsed)


def make_client(
    defences: dict[str, bool] | None = None, **resilient: object
) -> tuple[ResilientClient, CollectorRegistry, StubResolver]:
    registry = CollectorRegistry()
    config = WorkloadConfig.from_dict(
        {
            "resilient": {"backoff_base_s": 0.001, "backoff_cap_s": 0.002, **resilient},
            "defences": defences or {},
            "seed": 3,
        }
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
    client, registry, _ = make_client(hedge_delay_s=0.01, request_timeout_s=0.2)
    cancelled: list[Endpoint] = []
    primary: list[Endpoint] = []

    async def one(endpoint: Endpoint, op: Op, tally: Tally, **_: object) -> Reply:
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
    # The slow first request is not waited for, but left to run to its deadline.
    assert cancelled == []
    await eventually(lambda: cancelled == primary, what="the loser cut at its deadline")
    assert (
        value(registry, "fallacies_workload_hedges_total", client="resilient", outcome="won") == 1
    )


async def test_a_write_is_hedged_with_one_idempotency_key_and_one_body() -> None:
    client, registry, _ = make_client(hedge_delay_s=0.0)
    calls: list[tuple[Endpoint, str, bytes | None]] = []

    async def one(endpoint: Endpoint, op: Op, tally: Tally, **_: object) -> Reply:
        calls.append((endpoint, op.headers["Idempotency-Key"], op.body))
        await asyncio.sleep(0.05 if len(calls) == 1 else 0.0)
        return reply(endpoint)

    client._one = one  # type: ignore[method-assign]
    await client.write(Tally())
    assert len(calls) == 2
    assert calls[0][0] != calls[1][0]
    assert calls[0][1:] == calls[1][1:]
    assert (
        value(registry, "fallacies_workload_hedges_total", client="resilient", outcome="won") == 1
    )


async def test_a_post_is_hedged_only_when_marked_idempotent() -> None:
    client, _, _ = make_client(hedge_delay_s=0.0)
    calls: list[Endpoint] = []

    async def one(endpoint: Endpoint, op: Op, tally: Tally, **_: object) -> Reply:
        calls.append(endpoint)
        await asyncio.sleep(0.05)
        return reply(endpoint)

    client._one = one  # type: ignore[method-assign]
    await client.call(Op("POST", "/orders", b"{}"), Tally())
    assert len(calls) == 1


async def test_failures_are_retried_elsewhere_with_the_same_idempotency_key() -> None:
    client, registry, resolver = make_client(max_attempts=3)
    seen: list[tuple[Endpoint, str]] = []

    async def one(endpoint: Endpoint, op: Op, tally: Tally, **_: object) -> Reply:
        seen.append((endpoint, op.headers["Idempotency-Key"]))
        if len(seen) == 1:
            raise RequestFailed(endpoint, "network", "reset")
        return reply(endpoint)

    client._one = one  # type: ignore[method-assign]
    await client.call(Op("PUT", "/kv/k", b"{}", {"Idempotency-Key": "k1"}), Tally())
    assert [key for _, key in seen] == ["k1", "k1"]
    assert seen[0][0] != seen[1][0]
    # A reset says nothing about where the service is: DNS is not asked again.
    assert resolver.invalidated == 0
    assert value(registry, "fallacies_workload_retries_total", client="resilient") == 1


async def test_nobody_at_the_address_makes_the_client_ask_dns_again() -> None:
    client, _, resolver = make_client(max_attempts=3)
    calls: list[Endpoint] = []

    async def one(endpoint: Endpoint, op: Op, tally: Tally, **_: object) -> Reply:
        calls.append(endpoint)
        if len(calls) == 1:
            raise RequestFailed(endpoint, "connect", "connection refused")
        return reply(endpoint)

    client._one = one  # type: ignore[method-assign]
    await client.call(Op("GET", "/x"), Tally())
    assert resolver.invalidated == 1


async def test_retries_are_bounded_and_the_last_error_surfaces() -> None:
    client, registry, _ = make_client(max_attempts=3)

    async def one(endpoint: Endpoint, op: Op, tally: Tally, **_: object) -> Reply:
        raise Refused(endpoint, 503, None, "overloaded")

    client._one = one  # type: ignore[method-assign]
    with pytest.raises(Refused):
        await client.call(Op("GET", "/x"), Tally())
    assert value(registry, "fallacies_workload_retries_total", client="resilient") == 2


async def test_a_refusal_of_the_client_is_not_retried() -> None:
    client, registry, _ = make_client()

    async def one(endpoint: Endpoint, op: Op, tally: Tally, **_: object) -> Reply:
        return reply(endpoint, 403)

    client._one = one  # type: ignore[method-assign]
    with pytest.raises(Refused) as caught:
        await client.call(Op("GET", "/x"), Tally())
    assert caught.value.status == 403
    assert value(registry, "fallacies_workload_retries_total", client="resilient") == 0


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


class _Lowest:
    """In place of the balancer's random draw: always the lowest score (the heaviest
    weight), so a test knows which replica is asked first."""

    def choices(self, population: list[Endpoint], weights: list[float]) -> list[Endpoint]:
        return [population[weights.index(max(weights))]]


def prefer(client: ResilientClient, first: Endpoint, then: Endpoint) -> None:
    client.balancer._rng = _Lowest()  # type: ignore[attr-defined]
    client.balancer.finished(first, 0.001)
    client.balancer.finished(then, 0.002)


def answering(latency: dict[Endpoint, float]) -> object:
    """A stand-in for ``HttpClient.send``: each replica answers after its latency."""

    async def send(endpoint: Endpoint, method: str, target: str, **_: object) -> Reply:
        await asyncio.sleep(latency[endpoint])
        return reply(endpoint, elapsed=latency[endpoint])

    return send


async def test_a_primary_still_unanswered_at_its_deadline_counts_as_the_deadline() -> None:
    client, registry, _ = make_client(
        {"verify_signatures": False}, hedge_delay_s=0.01, request_timeout_s=0.3
    )
    client.http.send = answering({A: 5.0, B: 0.0})  # type: ignore[method-assign]
    # A looks fast to the balancer, so the read goes there first and is hedged to B.
    prefer(client, A, B)
    answer = await asyncio.wait_for(client.call(Op("GET", "/x", hedge=True), Tally()), 2)
    assert answer.endpoint == B
    assert (
        value(registry, "fallacies_workload_hedges_total", client="resilient", outcome="won") == 1
    )
    # The slow primary runs on unseen until its deadline, then counts as that deadline,
    # not as the ~10 ms it had waited when the hedge won.
    await eventually(lambda: not client._unseen, what="the loser observed to its deadline")
    latency_a = client.balancer.latency(A)  # type: ignore[attr-defined]
    assert latency_a is not None and latency_a >= 0.3 * 0.3
    assert client.balancer.pick((A, B)) == B


async def test_a_loser_that_answers_later_counts_as_what_it_took() -> None:
    client, _, _ = make_client({"verify_signatures": False}, hedge_delay_s=0.01)
    client.http.send = answering({A: 0.05, B: 0.0})  # type: ignore[method-assign]
    prefer(client, A, B)
    answer = await asyncio.wait_for(client.call(Op("GET", "/x", hedge=True), Tally()), 2)
    assert answer.endpoint == B
    await eventually(lambda: not client._unseen, what="the loser answered")
    latency_a = client.balancer.latency(A)  # type: ignore[attr-defined]
    # Learnt from its real answer (~50 ms), not a deadline of a second.
    assert latency_a is not None and 0.01 < latency_a < 0.1


async def test_losers_are_cancelled_on_close() -> None:
    client, _, _ = make_client(
        {"verify_signatures": False}, hedge_delay_s=0.01, request_timeout_s=30
    )
    client.http.send = answering({A: 60.0, B: 0.0})  # type: ignore[method-assign]
    prefer(client, A, B)
    await asyncio.wait_for(client.call(Op("GET", "/x", hedge=True), Tally()), 2)
    assert len(client._unseen) == 1
    await asyncio.wait_for(client.close(), 2)
    assert not client._unseen
    # Cancelled by the shutdown, not by its deadline: nothing learnt about A.
    assert client.balancer.latency(A) == pytest.approx(0.001)  # type: ignore[attr-defined]


async def test_a_forged_answer_counts_against_the_replica_that_sent_it() -> None:
    client, registry, _ = make_client(max_attempts=1, request_timeout_s=0.8)
    client.http.send = answering({A: 0.0, B: 0.0})  # type: ignore[method-assign]
    prefer(client, A, B)
    with pytest.raises(ForgedResponse):  # unsigned: it cannot verify
        await client.call(Op("GET", "/x"), Tally())
    assert (
        value(
            registry,
            "fallacies_workload_forged_responses_total",
            client="resilient",
            action="rejected",
        )
        == 1
    )
    # Counted as a failure (the penalty: a request deadline), not as a 0 ms answer.
    latency_a = client.balancer.latency(A)  # type: ignore[attr-defined]
    assert latency_a is not None and latency_a >= 0.2
    assert client.balancer.pick((A, B)) == B


async def test_a_retry_after_is_waited_out_and_the_same_replica_asked_again() -> None:
    client, registry, _ = make_client({"hedging": False}, max_attempts=3)
    seen: list[tuple[Endpoint, float]] = []

    async def one(endpoint: Endpoint, op: Op, tally: Tally, **_: object) -> Reply:
        seen.append((endpoint, asyncio.get_running_loop().time()))
        if len(seen) == 1:
            raise Refused(endpoint, 503, None, "overloaded", retry_after_s=0.3)
        return reply(endpoint)

    client._one = one  # type: ignore[method-assign]
    await client.call(Op("GET", "/x"), Tally())
    (first, asked), (second, again) = seen
    assert second == first, "it said when to come back: that replica is asked again"
    assert again - asked >= 0.3
    assert value(registry, "fallacies_workload_retries_total", client="resilient") == 1


@pytest.mark.parametrize(
    ("defences", "retry_after_s"),
    [({"retry_after": False}, 0.3), ({}, 10.0), ({}, None)],
    ids=["defence-off", "beyond-the-cap", "no-header"],
)
async def test_without_patience_the_refusal_is_retried_at_once_elsewhere(
    defences: dict[str, bool], retry_after_s: float | None
) -> None:
    client, _, _ = make_client(defences, max_attempts=3, retry_after_cap_s=3.0)
    seen: list[tuple[Endpoint, float]] = []

    async def one(endpoint: Endpoint, op: Op, tally: Tally, **_: object) -> Reply:
        seen.append((endpoint, asyncio.get_running_loop().time()))
        if len(seen) == 1:
            raise Refused(endpoint, 503, None, "overloaded", retry_after_s=retry_after_s)
        return reply(endpoint)

    client._one = one  # type: ignore[method-assign]
    await client.call(Op("GET", "/x"), Tally())
    (first, asked), (second, again) = seen
    assert second != first and again - asked < 0.25


async def test_an_unsigned_503_is_a_refusal_with_its_retry_after_not_a_forgery() -> None:
    client, registry, _ = make_client()
    headers = CIMultiDictProxy(CIMultiDict({"Retry-After": "2"}))
    bare = Reply(A, "GET", "/x", 503, headers, b"overloaded", 0.001)
    client.http.send = lambda *a, **k: _answer(bare)  # type: ignore[method-assign]
    with pytest.raises(Refused) as caught:
        await client._one(A, Op("GET", "/x"), Tally())
    assert (caught.value.status, caught.value.retry_after_s) == (503, 2.0)
    assert value(registry, "fallacies_workload_forged_responses_total",
                 client="resilient", action="rejected") == 0  # fmt: skip


async def _answer(reply: Reply) -> Reply:
    return reply


def test_retry_after_is_seconds_or_an_http_date() -> None:
    from email.utils import formatdate

    from services.workload.client import retry_after_s

    assert retry_after_s("3") == 3.0
    assert retry_after_s(None) is None and retry_after_s("soon") is None
    later = retry_after_s(formatdate(time.time() + 30, usegmt=True))
    assert later is not None and 28 <= later <= 30
