from __future__ import annotations

import random
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
    balancer = EwmaBalancer(alpha=0.3, decay_s=5.0, monotonic=clock, rng=random.Random(1))
    picked = run(balancer, {FAST: 0.005, SLOW: 0.2}, 1000)
    # Its first try (an unknown replica goes first), then about one in 1601.
    assert 1 <= picked[SLOW] <= 10
    assert picked[FAST] >= 990


def test_a_replica_five_times_slower_gets_one_request_in_26() -> None:
    # An LTE-like replica against an Ethernet one on a loaded machine: 1/5² against 1/1².
    balancer = EwmaBalancer(monotonic=FakeClock(), rng=random.Random(8))
    picked = run(balancer, {FAST: 0.008, SLOW: 0.040}, 2600)
    assert 60 <= picked[SLOW] <= 150


def test_replicas_alike_share_the_load() -> None:
    balancer = EwmaBalancer(monotonic=FakeClock(), rng=random.Random(2))
    picked = run(balancer, {FAST: 0.005, SLOW: 0.005}, 1000)
    assert 400 <= picked[FAST] <= 600


def test_an_unknown_replica_is_tried_first() -> None:
    balancer = EwmaBalancer(monotonic=FakeClock(), rng=random.Random(3))
    balancer.observe(FAST, 0.001)
    assert balancer.pick(BOTH) == SLOW


def test_ewma_weighs_requests_in_flight() -> None:
    balancer = EwmaBalancer(monotonic=FakeClock(), rng=random.Random(4))
    balancer.observe(FAST, 0.010)
    balancer.observe(SLOW, 0.015)
    assert balancer.score(FAST) < balancer.score(SLOW)
    for _ in range(2):
        balancer.started(FAST)
    # 0.010 × 3 requests in flight now scores worse than 0.015 × 1.
    assert balancer.score(FAST) == pytest.approx(0.030)
    picks = Counter(balancer.pick(BOTH) for _ in range(1000))
    assert picks[SLOW] > picks[FAST]


def test_ewma_recovers_when_the_slow_replica_becomes_fast() -> None:
    clock = FakeClock()
    balancer = EwmaBalancer(alpha=0.3, decay_s=2.0, monotonic=clock, rng=random.Random(5))
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
    # ...and back again once it recovers: it is still measured now and then, and old
    # latencies fade. 1 ms against 4 ms: sixteen requests in seventeen.
    latency = {FAST: 0.001, SLOW: 0.004}
    for _ in range(300):
        clock.now += 0.25
        endpoint = balancer.pick(BOTH)
        balancer.started(endpoint)
        balancer.finished(endpoint, latency[endpoint])
        picks.append(endpoint)
    assert 0.85 <= Counter(picks[-100:])[FAST] / 100 <= 0.995


def test_a_failure_counts_as_slow() -> None:
    balancer = EwmaBalancer(failure_penalty_s=1.0, monotonic=FakeClock(), rng=random.Random(6))
    balancer.observe(SLOW, 0.05)
    balancer.started(FAST)
    balancer.finished(FAST, None)
    assert balancer.latency(FAST) == pytest.approx(1.0)
    picks = Counter(balancer.pick(BOTH) for _ in range(1000))
    assert picks[SLOW] >= 990  # 1 in 401


def test_a_cancelled_request_teaches_nothing() -> None:
    balancer = EwmaBalancer(monotonic=FakeClock())
    balancer.observe(FAST, 0.010)
    balancer.started(FAST)
    balancer.cancelled(FAST)
    assert balancer.latency(FAST) == pytest.approx(0.010)
    assert balancer.score(FAST) == pytest.approx(0.010)  # no request left in flight there


def test_exclusion_falls_back_to_everyone() -> None:
    balancer = EwmaBalancer(monotonic=FakeClock(), rng=random.Random(7))
    balancer.observe(FAST, 0.010)
    balancer.observe(SLOW, 0.050)
    assert all(balancer.pick(BOTH, exclude={FAST}) == SLOW for _ in range(50))
    # Every replica failed once: all of them again, by latency, not an arbitrary one.
    picks = Counter(balancer.pick((SLOW, FAST), exclude={FAST, SLOW}) for _ in range(1000))
    assert 940 <= picks[FAST] <= 985  # 1/0.010² against 1/0.050²: 25 in 26
    with pytest.raises(LookupError):
        balancer.pick(())
