"""Copying writes to the peer replicas over HTTP, and noticing when they have drifted apart.

::

    PUT /kv/k ──> store ──> Replicator.replicate(entry)
                              │  one PeerLink per peer: pending {key: newest entry}
                              ▼
                   sender loop ── POST /internal/replicate ──> peer (through repl-1-2)
                      ▲  fail: back off (exponential, jittered, capped), keep pending
                      └─ ok: drop acked keys, observe lag
                   anti-entropy loop ── GET /internal/digest ──> peer
                      compare per key; push keys where we are newer;
                      fallacies_api_replica_divergent_keys = |differing ∪ pending|, each
                      counted once it has differed for divergence_after_s

The link between replicas is exactly what a partition cuts, so nothing here assumes
it works: pending writes coalesce per key (the queue is bounded by the number of
keys, not of writes), the sender retries until the peer answers, and the digest
comparison repairs whatever the queue could not (e.g. a peer that restarted empty).
Requests are signed with the shared request key; answers must carry a valid
response signature or they count as ``forged`` and are retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from services.api._types import JSON, Clock, Monotonic
from services.api.encoding import dumps
from services.api.keys import KeyRing
from services.api.metrics import ApiMetrics
from services.api.signing import SignatureError, sign_request, verify_response
from services.api.store import Entry, KVStore
from services.common.errors import FallaciesError

log = logging.getLogger(__name__)

REPLICATE_PATH = "/internal/replicate"
DIGEST_PATH = "/internal/digest"


class PeerError(FallaciesError):
    """An exchange with a peer failed; ``outcome`` is the bounded metrics label."""

    def __init__(self, outcome: str, message: str) -> None:
        self.outcome = outcome
        super().__init__(message)


@dataclass(frozen=True, kw_only=True)
class ReplicationSettings:
    batch_size: int = 256
    timeout_s: float = 2.0
    backoff_base_s: float = 0.05
    backoff_max_s: float = 2.0
    anti_entropy_interval_s: float = 1.0
    anti_entropy_idle_interval_s: float = 8.0
    """While the replicas agree the rounds space out, doubling up to this: an idle mesh
    should cost (almost) nothing. Any divergence or unreachable peer resets them."""
    divergence_after_s: float = 1.0
    """Disagreement younger than this is a write in flight, not divergence."""


@dataclass
class _Pending:
    entry: Entry
    queued_at: float


@dataclass
class PeerLink:
    """What this replica owes one peer, and what it last learned about it."""

    name: str
    base_url: str
    pending: dict[str, _Pending] = field(default_factory=dict)
    diverged: dict[str, float] = field(default_factory=dict)
    """Keys the last digest comparison found different -> since when (monotonic)."""
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def enqueue(self, entry: Entry, now: float) -> None:
        """Newest entry per key wins; the age stays that of the first unacknowledged write."""
        previous = self.pending.get(entry.key)
        if previous is not None and previous.entry.version >= entry.version:
            return
        queued_at = previous.queued_at if previous is not None else now
        self.pending[entry.key] = _Pending(entry, queued_at)
        self.wake.set()

    def url(self, path: str) -> URL:
        return URL(self.base_url.rstrip("/") + path)


class Replicator:
    """Owns the client session, one sender task per peer and the anti-entropy task."""

    def __init__(
        self,
        *,
        replica_id: str,
        peers: dict[str, str],
        store: KVStore,
        keys: KeyRing,
        clock: Clock,
        metrics: ApiMetrics,
        settings: ReplicationSettings,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self.replica_id = replica_id
        self.links = {name: PeerLink(name, url) for name, url in peers.items()}
        self._store = store
        self._keys = keys
        self._clock = clock
        self._metrics = metrics
        self._settings = settings
        self._monotonic = monotonic
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        for name in self.links:
            metrics.replication_queue_depth.labels(name).set(0)
            metrics.replication_oldest_pending.labels(name).set(0)
        metrics.divergent_keys.set(0)

    async def start(self) -> None:
        if not self.links or self._tasks:
            return
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._settings.timeout_s)
        )
        for link in self.links.values():
            self._tasks.append(asyncio.create_task(self._send_loop(link), name=f"repl-{link.name}"))
        self._tasks.append(asyncio.create_task(self._anti_entropy_loop(), name="anti-entropy"))

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None

    def replicate(self, entry: Entry) -> None:
        """Queue a write for every peer; never waits for the network."""
        now = self._monotonic()
        for link in self.links.values():
            link.enqueue(entry, now)
        self._update_gauges()

    async def anti_entropy_once(self) -> bool:
        """Compare digests with every peer now; True when every peer answered and agrees
        and nothing is queued for it (the loop then waits longer before the next round)."""
        in_sync = True
        for link in self.links.values():
            try:
                remote = await self._fetch_digest(link)
            except PeerError as exc:
                self._metrics.anti_entropy_runs.labels(link.name, exc.outcome).inc()
                in_sync = False
                continue
            self._metrics.anti_entropy_runs.labels(link.name, "ok").inc()
            self._compare(link, remote)
            in_sync = in_sync and not link.diverged and not link.pending
        self._update_gauges()
        return in_sync

    def _compare(self, link: PeerLink, remote: dict[str, tuple[float, str, str]]) -> None:
        local = self._store.digest()
        now = self._monotonic()
        diverged: dict[str, float] = {}
        for key in local.keys() | remote.keys():
            mine, theirs = local.get(key), remote.get(key)
            if mine == theirs:
                continue
            diverged[key] = link.diverged.get(key, now)
            if mine is not None and (theirs is None or mine[:2] > theirs[:2]):
                entry = self._store.get(key)
                if entry is not None:
                    link.enqueue(entry, now)
        link.diverged = diverged

    def _update_gauges(self) -> None:
        now = self._monotonic()
        settled = now - self._settings.divergence_after_s
        differing: set[str] = set()
        for link in self.links.values():
            differing.update(k for k, since in link.diverged.items() if since <= settled)
            differing.update(k for k, p in link.pending.items() if p.queued_at <= settled)
            oldest = min((p.queued_at for p in link.pending.values()), default=now)
            self._metrics.replication_queue_depth.labels(link.name).set(len(link.pending))
            self._metrics.replication_oldest_pending.labels(link.name).set(now - oldest)
        self._metrics.divergent_keys.set(len(differing))

    async def _send_loop(self, link: PeerLink) -> None:
        failures = 0
        while True:
            await link.wake.wait()
            batch = list(link.pending.values())[: self._settings.batch_size]
            if not batch:
                link.wake.clear()
                continue
            body = dumps({"origin": self.replica_id, "entries": [p.entry.to_wire() for p in batch]})
            try:
                await self._exchange(link, "POST", REPLICATE_PATH, body)
            except PeerError as exc:
                self._metrics.replication_attempts.labels(link.name, exc.outcome).inc()
                failures += 1
                if failures == 1:
                    log.warning("replication to %s failing: %s", link.name, exc)
                self._update_gauges()
                await asyncio.sleep(self._backoff(failures))
                continue
            except Exception:
                failures += 1
                log.exception("replication to %s: unexpected error", link.name)
                await asyncio.sleep(self._backoff(failures))
                continue
            if failures:
                log.info("replication to %s recovered after %d failures", link.name, failures)
            failures = 0
            self._metrics.replication_attempts.labels(link.name, "ok").inc()
            now = self._monotonic()
            for sent in batch:
                if link.pending.get(sent.entry.key) is sent:
                    del link.pending[sent.entry.key]
                    self._metrics.replication_lag.observe(now - sent.queued_at)
            if not link.pending:
                link.wake.clear()
            self._update_gauges()

    def _backoff(self, failures: int) -> float:
        """Exponential with "equal jitter": half fixed, half random, capped."""
        ceiling = min(
            self._settings.backoff_max_s,
            self._settings.backoff_base_s * 2.0 ** min(failures - 1, 30),
        )
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    async def _anti_entropy_loop(self) -> None:
        interval = self._settings.anti_entropy_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                in_sync = await self.anti_entropy_once()
            except Exception:
                log.exception("anti-entropy round failed")
                in_sync = False
            interval = self.next_interval(interval, in_sync)

    def next_interval(self, interval: float, in_sync: bool) -> float:
        base = self._settings.anti_entropy_interval_s
        if not in_sync:
            return base
        return max(base, min(interval * 2, self._settings.anti_entropy_idle_interval_s))

    async def _fetch_digest(self, link: PeerLink) -> dict[str, tuple[float, str, str]]:
        doc = await self._exchange(link, "GET", DIGEST_PATH, b"")
        keys = doc.get("keys") if isinstance(doc, dict) else None
        if not isinstance(keys, dict):
            raise PeerError("rejected", "digest document without keys")
        remote: dict[str, tuple[float, str, str]] = {}
        for key, value in keys.items():
            if isinstance(value, list) and len(value) == 3:
                remote[str(key)] = (float(value[0]), str(value[1]), str(value[2]))
        return remote

    async def _exchange(self, link: PeerLink, method: str, path: str, body: bytes) -> JSON:
        """One signed request whose answer must be a signed 200; anything else is a PeerError."""
        if self._session is None:
            raise PeerError("unreachable", "replicator not started")
        url = link.url(path)
        target = url.raw_path_qs
        now = self._clock()
        key = self._keys.signing_key("request", now)
        headers = sign_request(method, target, body, key.kid, key.secret, now)
        headers["Content-Type"] = "application/json"
        try:
            async with self._session.request(method, url, data=body, headers=headers) as resp:
                payload = await resp.read()
                status = resp.status
                try:
                    verify_response(
                        method,
                        target,
                        status,
                        payload,
                        resp.headers,
                        self._keys.secrets("response", self._clock()),
                    )
                except SignatureError as exc:
                    raise PeerError("forged", f"{link.name}: {exc}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise PeerError("unreachable", f"{link.name}: {exc!r}") from None
        if status != 200:
            raise PeerError("rejected", f"{link.name}: HTTP {status}: {payload[:200]!r}")
        try:
            return json.loads(payload)
        except ValueError:
            raise PeerError("rejected", f"{link.name}: answer is not JSON") from None
