"""Choosing a replica: blind round-robin, or latency-aware (EWMA) balancing.

Round-robin believes every replica is the same ("the network is homogeneous"): an
LTE-like link gets half the traffic. The EWMA balancer remembers each replica's
recent latency, weighted by requests already in flight there, and picks at random
in inverse proportion to its square: replicas alike share the load, one twice as slow
gets one request in five, one ten times slower one in a hundred and one. (Inverse
proportion alone gave an LTE-like replica, five times slower than its Ethernet twin on
a loaded machine, one request in six: too many for a client that claims to measure.)
Those few requests keep measuring it, and a remembered latency also fades with time
since it was last refreshed (``decay_s``), so a replica that was slow once is tried
again instead of being shunned forever — that is how the balancer recovers
(Linkerd's peak-EWMA uses the same fading; the random weighting keeps one replica
from taking all the load while the scores are nearly equal).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from services.workload._types import Endpoint


class Balancer(Protocol):
    def pick(
        self, endpoints: Sequence[Endpoint], *, exclude: Collection[Endpoint] = ()
    ) -> Endpoint: ...

    def started(self, endpoint: Endpoint) -> None: ...

    def finished(self, endpoint: Endpoint, latency_s: float | None) -> None:
        """``latency_s`` None: the request failed."""

    def cancelled(self, endpoint: Endpoint) -> None:
        """The request was given up with nothing learnt about the replica."""


def _candidates(endpoints: Sequence[Endpoint], exclude: Collection[Endpoint]) -> list[Endpoint]:
    if not endpoints:
        raise LookupError("no endpoints to choose from")
    left = [e for e in endpoints if e not in exclude]
    return left or list(endpoints)


class RoundRobin:
    """Each request to the next replica in turn, whatever happened to the last one."""

    def __init__(self) -> None:
        self._next = 0

    def pick(
        self, endpoints: Sequence[Endpoint], *, exclude: Collection[Endpoint] = ()
    ) -> Endpoint:
        candidates = _candidates(endpoints, exclude)
        chosen = candidates[self._next % len(candidates)]
        self._next += 1
        return chosen

    def started(self, endpoint: Endpoint) -> None:
        pass

    def finished(self, endpoint: Endpoint, latency_s: float | None) -> None:
        pass

    def cancelled(self, endpoint: Endpoint) -> None:
        pass


@dataclass
class _Score:
    ewma: float | None = None
    updated: float = 0.0
    in_flight: int = 0


class EwmaBalancer:
    """Score ``ewma · e^(−age/decay_s) · (in_flight + 1)``; a replica is picked with
    probability ∝ 1/score², and an unknown replica (score 0) first.

    A sample's weight grows with the time since the last one (``1 − (1−α)·e^(−age/decay_s)``),
    so the first probe after a long silence nearly replaces the old belief.

    ``failure_penalty_s`` is recorded as the latency of a failed request, so a replica
    that resets connections looks slow rather than fast.
    """

    def __init__(
        self,
        *,
        alpha: float = 0.3,
        decay_s: float = 5.0,
        failure_penalty_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.alpha = alpha
        self._rng = rng or random.Random()
        self.decay_s = decay_s
        self.failure_penalty_s = failure_penalty_s
        self._now = monotonic
        self._scores: dict[Endpoint, _Score] = {}

    def score(self, endpoint: Endpoint) -> float:
        state = self._scores.get(endpoint)
        if state is None or state.ewma is None:
            return 0.0
        age = max(0.0, self._now() - state.updated)
        return state.ewma * math.exp(-age / self.decay_s) * (state.in_flight + 1)

    def latency(self, endpoint: Endpoint) -> float | None:
        state = self._scores.get(endpoint)
        return None if state is None else state.ewma

    def pick(
        self, endpoints: Sequence[Endpoint], *, exclude: Collection[Endpoint] = ()
    ) -> Endpoint:
        candidates = _candidates(endpoints, exclude)
        scores = [self.score(endpoint) for endpoint in candidates]
        for endpoint, score in zip(candidates, scores, strict=True):
            if score <= 0:
                return endpoint
        weights = [score**-2 for score in scores]
        return self._rng.choices(candidates, weights=weights)[0]

    def started(self, endpoint: Endpoint) -> None:
        self._scores.setdefault(endpoint, _Score()).in_flight += 1

    def finished(self, endpoint: Endpoint, latency_s: float | None) -> None:
        self.cancelled(endpoint)
        self.observe(endpoint, self.failure_penalty_s if latency_s is None else latency_s)

    def cancelled(self, endpoint: Endpoint) -> None:
        state = self._scores.setdefault(endpoint, _Score())
        state.in_flight = max(0, state.in_flight - 1)

    def observe(self, endpoint: Endpoint, latency_s: float) -> None:
        state = self._scores.setdefault(endpoint, _Score())
        now = self._now()
        if state.ewma is None:
            state.ewma = latency_s
        else:
            keep = (1 - self.alpha) * math.exp(-max(0.0, now - state.updated) / self.decay_s)
            state.ewma = keep * state.ewma + (1 - keep) * latency_s
        state.updated = now
