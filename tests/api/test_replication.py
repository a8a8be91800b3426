"""Two replicas on real sockets, each reaching the other through a relay the test can cut.

Timing: anti-entropy every 50 ms and backoff capped at 100 ms, so convergence after
a heal takes well under a second; every wait polls with a 5 s deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from services.api import ApiConfig, ApiServer
from services.api.state import ApiState
from services.api.store import Entry
from tests.api.helpers import ADMIN, FakeClock, Relay, SignedClient, eventually

FAST: dict[str, Any] = {
    "catalog_items": 10,
    "anti_entropy_interval_s": 0.05,
    "anti_entropy_idle_interval_s": 0.2,
    "replication_backoff_base_s": 0.01,
    "replication_backoff_max_s": 0.1,
    "replication_timeout_s": 1.0,
    "divergence_after_s": 0.0,
}
NAMES = ("api-1", "api-2")


class Pair:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.servers: dict[str, ApiServer] = {}
        self.relays: dict[str, Relay] = {}
        """relays[name] carries the other replica's traffic *to* ``name``."""
        self.api: dict[str, SignedClient] = {}
        self.admin: dict[str, SignedClient] = {}

    def state(self, name: str) -> ApiState:
        state = self.servers[name].state
        assert state is not None
        return state

    def sample(self, name: str, metric: str, labels: dict[str, str] | None = None) -> float:
        return self.servers[name].registry.get_sample_value(metric, labels or {}) or 0.0

    def partition(self) -> None:
        for relay in self.relays.values():
            relay.partition()

    def heal(self) -> None:
        for relay in self.relays.values():
            relay.heal()

    async def value(self, name: str, key: str) -> Any:
        reply = await self.api[name].call("GET", f"/kv/{key}")
        return reply.json()["value"] if reply.status == 200 else None

    async def converged(self, key: str, value: Any) -> bool:
        return all([await self.value(n, key) == value for n in NAMES])

    def settled(self) -> bool:
        return all(
            self.sample(n, "fallacies_api_replica_divergent_keys") == 0
            and self.state(n).store.root_digest() == self.state(NAMES[0]).store.root_digest()
            for n in NAMES
        )


@pytest.fixture
async def make_pair() -> AsyncIterator[Callable[..., Any]]:
    pairs: list[Pair] = []
    session = aiohttp.ClientSession()

    async def make(
        clocks: dict[str, Callable[[], float]] | None = None,
        per_replica: dict[str, dict[str, Any]] | None = None,
        **overrides: Any,
    ) -> Pair:
        pair = Pair(session)
        pairs.append(pair)
        for name in NAMES:
            pair.relays[name] = Relay()
            await pair.relays[name].start()
        for name in NAMES:
            peer = next(n for n in NAMES if n != name)
            clock = (clocks or {}).get(name, time.time)
            settings = {**FAST, **overrides, **(per_replica or {}).get(name, {})}
            config = ApiConfig(replica_id=name, peers={peer: pair.relays[peer].url}, **settings)
            server = ApiServer(config=config, clock=clock)
            await server.start()
            pair.servers[name] = server
            pair.relays[name].target = int(server.endpoints["http"].rsplit(":", 1)[1])
            pair.api[name] = SignedClient(session, server.endpoints["http"], clock=clock)
            pair.admin[name] = SignedClient(session, server.endpoints["admin"], clock=clock)
        return pair

    yield make
    for pair in pairs:
        for relay in pair.relays.values():
            await relay.stop()
        for server in pair.servers.values():
            await server.stop()
    await session.close()


async def test_writes_on_either_replica_reach_the_other(make_pair):
    pair = await make_pair()
    await pair.api["api-1"].call("PUT", "/kv/a", json_body={"value": "from api-1"})
    await pair.api["api-2"].call("PUT", "/kv/b", json_body={"value": "from api-2"})
    await eventually(lambda: pair.converged("a", "from api-1"), what="a on both")
    await eventually(lambda: pair.converged("b", "from api-2"), what="b on both")
    await eventually(pair.settled, what="no divergence")
    assert pair.sample("api-1", "fallacies_api_replication_lag_seconds_count") >= 1
    assert (
        pair.sample(
            "api-2", "fallacies_api_writes_total", {"source": "replication", "outcome": "applied"}
        )
        >= 1
    )


async def test_partition_queues_writes_shows_divergence_and_converges_after_heal(make_pair):
    pair = await make_pair()
    pair.partition()
    await pair.api["api-1"].call("PUT", "/kv/k1", json_body={"value": 1})
    await pair.api["api-2"].call("PUT", "/kv/k2", json_body={"value": 2})

    depth = {"peer": "api-2"}
    assert pair.sample("api-1", "fallacies_api_replication_queue_depth", depth) == 1
    assert pair.sample("api-1", "fallacies_api_replica_divergent_keys") >= 1
    assert pair.sample("api-2", "fallacies_api_replica_divergent_keys") >= 1
    await eventually(
        lambda: (
            pair.sample(
                "api-1",
                "fallacies_api_replication_attempts_total",
                {"peer": "api-2", "outcome": "unreachable"},
            )
            >= 2
        ),
        what="retries while partitioned",
    )
    await eventually(
        lambda: pair.sample("api-1", "fallacies_api_replication_oldest_pending_seconds", depth) > 0,
        what="pending age grows",
    )
    assert await pair.value("api-2", "k1") is None

    pair.heal()
    await eventually(lambda: pair.converged("k1", 1), what="k1 on both")
    await eventually(lambda: pair.converged("k2", 2), what="k2 on both")
    await eventually(pair.settled, what="divergence back to 0")
    assert pair.sample("api-1", "fallacies_api_replication_queue_depth", depth) == 0
    assert pair.sample("api-1", "fallacies_api_replication_oldest_pending_seconds", depth) == 0
    assert pair.sample("api-1", "fallacies_api_replication_lag_seconds_count") >= 1


async def test_a_write_on_its_way_is_not_divergence(make_pair):
    pair = await make_pair(divergence_after_s=0.3)
    pair.partition()
    await pair.api["api-1"].call("PUT", "/kv/k1", json_body={"value": 1})
    depth = {"peer": "api-2"}
    assert pair.sample("api-1", "fallacies_api_replication_queue_depth", depth) == 1
    assert pair.sample("api-1", "fallacies_api_replica_divergent_keys") == 0
    # Still not delivered after divergence_after_s: now it is divergence.
    await eventually(
        lambda: pair.sample("api-1", "fallacies_api_replica_divergent_keys") == 1,
        what="the undelivered write counts once it is old enough",
    )
    pair.heal()
    await eventually(pair.settled, what="divergence back to 0")


async def test_concurrent_writes_with_equal_timestamps_go_to_the_higher_replica_id(make_pair):
    clock = FakeClock()
    pair = await make_pair(clocks={"api-1": clock, "api-2": clock})
    pair.partition()
    one = await pair.api["api-1"].call("PUT", "/kv/k", json_body={"value": "one"})
    two = await pair.api["api-2"].call("PUT", "/kv/k", json_body={"value": "two"})
    assert one.json()["version"]["ts"] == two.json()["version"]["ts"]
    pair.heal()
    await eventually(lambda: pair.converged("k", "two"), what="api-2 wins the tie")
    await eventually(pair.settled, what="no divergence")
    assert (
        pair.sample(
            "api-2", "fallacies_api_writes_total", {"source": "replication", "outcome": "stale"}
        )
        >= 1
    )


async def test_the_larger_timestamp_wins_even_when_written_first(make_pair):
    """api-1's clock runs 2 s ahead: its earlier write beats api-2's later one."""
    base = time.time()
    fast, slow = FakeClock(base + 2.0), FakeClock(base)
    pair = await make_pair(clocks={"api-1": fast, "api-2": slow})
    pair.partition()
    await pair.api["api-1"].call("PUT", "/kv/k", json_body={"value": "earlier, fast clock"})
    fast.advance(0.5)
    slow.advance(0.5)
    await pair.api["api-2"].call("PUT", "/kv/k", json_body={"value": "later, slow clock"})
    pair.heal()
    await eventually(lambda: pair.converged("k", "earlier, fast clock"), what="fast clock wins")


async def test_anti_entropy_repairs_what_the_queue_never_carried(make_pair):
    """E.g. a write that landed while a peer was restarting empty: only the digest sees it."""
    pair = await make_pair()
    state = pair.state("api-1")
    state.store.apply(Entry("orphan", "lost in a restart", time.time(), "api-1"))
    await eventually(lambda: pair.converged("orphan", "lost in a restart"), what="repair")
    await eventually(pair.settled, what="no divergence")


async def test_failover_retry_with_the_same_idempotency_key_is_replayed_by_the_peer(make_pair):
    pair = await make_pair()
    headers = {"Idempotency-Key": "pay-7"}
    first = await pair.api["api-1"].call("PUT", "/kv/pay", json_body={"value": 7}, headers=headers)
    await eventually(lambda: pair.converged("pay", 7), what="replicated")
    retry = await pair.api["api-2"].call("PUT", "/kv/pay", json_body={"value": 7}, headers=headers)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.body == first.body
    assert pair.sample("api-2", "fallacies_api_idempotent_replays_total") == 1
    assert (
        pair.sample(
            "api-2", "fallacies_api_writes_total", {"source": "client", "outcome": "applied"}
        )
        == 0
    )


async def test_replica_clocks_too_far_apart_stall_replication(make_pair):
    skewed = FakeClock(time.time() + 10.0)
    pair = await make_pair(clocks={"api-1": skewed})
    await pair.api["api-1"].call("PUT", "/kv/k", json_body={"value": 1})
    await eventually(
        lambda: (
            pair.sample(
                "api-1",
                "fallacies_api_replication_attempts_total",
                {"peer": "api-2", "outcome": "rejected"},
            )
            >= 1
        ),
        what="peer refuses the skewed replica",
    )
    assert (
        pair.sample("api-2", "fallacies_api_rejects_total", {"reason": "RequestTimeTooSkewed"}) >= 1
    )
    assert pair.sample("api-1", "fallacies_api_replica_divergent_keys") >= 1
    skewed.now = time.time()
    await eventually(lambda: pair.converged("k", 1), what="converged once clocks agree")


async def test_a_key_rotated_on_one_replica_only_stalls_replication_until_both_have_it(make_pair):
    pair = await make_pair()
    rotation = {"kid": "dev-2", "secret": "shared-by-the-whole-replica-set"}
    reply = await pair.admin["api-2"].call(
        "POST", "/admin/keys/rotate", json_body=rotation, headers=ADMIN, sign=False
    )
    assert reply.status == 200
    await pair.api["api-1"].call("PUT", "/kv/k", json_body={"value": 1})
    await eventually(
        lambda: (
            pair.sample(
                "api-1",
                "fallacies_api_replication_attempts_total",
                {"peer": "api-2", "outcome": "rejected"},
            )
            >= 1
        ),
        what="api-2 refuses the retired key",
    )
    await pair.admin["api-1"].call(
        "POST", "/admin/keys/rotate", json_body=rotation, headers=ADMIN, sign=False
    )
    pair.api["api-2"].key_id, pair.api["api-2"].secret = rotation["kid"], rotation["secret"]
    pair.api["api-1"].key_id, pair.api["api-1"].secret = rotation["kid"], rotation["secret"]
    await eventually(lambda: pair.converged("k", 1), what="converged after both rotated")


async def test_a_peer_that_cannot_sign_its_answers_is_not_trusted(make_pair):
    """A rogue on the replication link (fallacy 4) answers 200 but cannot sign: counted, retried."""
    rogue = {"response_keys": {"rogue": "a-key-the-replica-set-does-not-share"}}
    pair = await make_pair(per_replica={"api-2": rogue})
    await pair.api["api-1"].call("PUT", "/kv/k", json_body={"value": 1})
    await eventually(
        lambda: (
            pair.sample(
                "api-1",
                "fallacies_api_replication_attempts_total",
                {"peer": "api-2", "outcome": "forged"},
            )
            >= 2
        ),
        what="forged acknowledgements refused",
    )
    assert pair.sample("api-1", "fallacies_api_replication_queue_depth", {"peer": "api-2"}) == 1
    assert pair.sample("api-1", "fallacies_api_replica_divergent_keys") == 1


async def test_anti_entropy_spaces_out_while_the_replicas_agree(make_pair):
    """An idle mesh should not pay for a digest exchange every interval."""
    pair = await make_pair(anti_entropy_interval_s=0.05, anti_entropy_idle_interval_s=0.4)
    replicator = pair.state("api-1").replicator
    assert replicator.next_interval(0.05, True) == 0.1
    assert replicator.next_interval(0.3, True) == 0.4
    assert replicator.next_interval(0.4, False) == 0.05
    await eventually(pair.settled, what="no divergence")

    def runs() -> float:
        return pair.sample(
            "api-1", "fallacies_api_anti_entropy_runs_total", {"peer": "api-2", "outcome": "ok"}
        )

    start = runs()
    await asyncio.sleep(2.0)  # a measuring window, not a synchronisation
    # At the base interval 2 s would be ~40 rounds; spaced out to 0.4 s it is at most ~8.
    assert 1 <= runs() - start <= 10, runs() - start
