from __future__ import annotations

from collections import Counter

import pytest

from services.workload._types import Endpoint
from services.workload.balancer import EwmaBalancer, RoundRobin

FAST = Endpoint("api-1", "127.0.0.1", 8081)
SLOW = Endpoint("api-2", "127.0.0.1", 8082)
BOTH = (FAST, SLOW)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(balancer: EwmaBalancer, latency: dict[Endpoint, float], n: int) -> Counter[Endpoint]:
    picked: Counter[Endpoint] = Counter()
    for _ in range(n):
        endpoint = balancer.pick(BOTH)
        balancer.started(endpoint)
        balancer.finished(endpoint, latency[endpoint])
        picked[endpoint] += 1
    return picked


def test_round_robin_alternates_whatever_happens() -> None:
    rr = RoundRobin()
    assert [rr.pick(BOTH) for _ in range(4)] == [FAST, SLOW, FAST, SLOW]
    assert rr.pick(BOTH, exclude={FAST}) == SLOW


def test_ewma_prefers_the_faster_replica() -> None:
    clock = FakeClock()
    balancer = EwmaBalancer(alpha=0.3, decay_s=5.0, monotonic=clock)
    picked = run(balancer, {FAST: 0.005, SLOW: 0.2}, 100)
    assert picked[FAST] >= 95
    assert picked[SLOW] >= 1  # an unknown replica is tried once


def test_ewma_weighs_requests_in_flight() -> None:
    balancer = EwmaBalancer(monotonic=FakeClock())
    balancer.observe(FAST, 0.010)
    balancer.observe(SLOW, 0.015)
    for _ in range(2):
        balancer.started(FAST)
    assert balancer.pick(BOTH) == SLOW


def test_ewma_recovers_when_the_slow_replica_becomes_fast() -> None:
    clock = FakeClock()
    balancer = EwmaBalancer(alpha=0.3, decay_s=2.0, monotonic=clock)
    run(balancer, {FAST: 0.005, SLOW: 0.2}, 20)
    # The "fast" replica degrades: the balancer moves away from it...
    latency = {FAST: 0.3, SLOW: 0.004}
    picks: list[Endpoint] = []
    for _ in range(60):
        clock.now += 0.25
        endpoint = balancer.pick(BOTH)
        balancer.started(endpoint)
        balancer.finished(endpoint, latency[endpoint])
        picks.append(endpoint)
    assert Counter(picks[-20:])[SLOW] >= 18
    # ...and back again once it recovers, because old latencies fade.
    latency = {FAST: 0.001, SLOW: 0.004}
    for _ in range(200):
        clock.now += 0.25
        endpoint = balancer.pick(BOTH)
        balancer.started(endpoint)
        balancer.finished(endpoint, latency[endpoint])
        picks.append(endpoint)
    assert Counter(picks[-20:])[FAST] >= 18


def test_a_failure_counts_as_slow() -> None:
    balancer = EwmaBalancer(failure_penalty_s=1.0, monotonic=FakeClock())
    balancer.observe(SLOW, 0.05)
    balancer.started(FAST)
    balancer.finished(FAST, None)
    assert balancer.latency(FAST) == pytest.approx(1.0)
    assert balancer.pick(BOTH) == SLOW


def test_exclusion_falls_back_to_everyone() -> None:
    balancer = EwmaBalancer(monotonic=FakeClock())
    assert balancer.pick(BOTH, exclude={FAST}) == SLOW
    assert balancer.pick(BOTH, exclude={FAST, SLOW}) in BOTH
    with pytest.raises(LookupError):
        balancer.pick(())
