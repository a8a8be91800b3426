"""The client that defends against the eight fallacies, one switchable defence at a time.

One logical request (``call``) may cost several exchanges::

    resolve (TTL, re-resolve after a failure, TCP fallback, serve-stale)
      └─► attempt: EWMA pick ─► send with a timeout ─► verify the signature
            │          └─ no answer within the hedge delay (p95): same request to
            │             another replica, first genuine answer wins, the other is cancelled
            ├─ 401 ─► discover keys with the bootstrap token, send again (once)
            ├─ 429/503 with Retry-After ─► wait as asked (capped), same replica again
            └─ no answer / forged / 5xx ─► full-jitter backoff ─► next attempt elsewhere

Writes carry an Idempotency-Key that stays the same across attempts and hedges, so
a retry after an ambiguous failure is not applied twice. Only idempotent requests
are hedged: reads, and the journey's write, a PUT (idempotent by HTTP's own
definition, RFC 9110 §9.2.2) whose two copies carry one key and one body — the
replicas converge on the same value whichever copy lands. Every defence named in
``Defences`` can be switched off for a negative control.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.api.headers import IDEMPOTENT_REPLAYED
from services.api.signing import INVALID_KEY_ID, SignatureError, verify_response
from services.workload._types import ClientName, Endpoint
from services.workload.backoff import Backoff
from services.workload.balancer import Balancer, EwmaBalancer, RoundRobin
from services.workload.client import JSON_TYPE, BaseClient, Shared, bare_refusal, item_ids
from services.workload.config import WorkloadConfig
from services.workload.errors import ForgedResponse, Refused, RequestFailed
from services.workload.http import Reply, Tally
from services.workload.keys import (
    BOOTSTRAP_KEY_ID,
    BOOTSTRAP_TOKEN,
    DISCOVERY_PATH,
    parse_discovery,
)
from services.workload.resolver import DnsClient, ResilientResolver
from services.workload.timesync import NaiveTimeSync, ResilientTimeSync

log = logging.getLogger(__name__)

_MIN_SAMPLES_FOR_P95 = 20
_FALLBACK_HEDGE_S = 0.1
"""Seconds to wait before hedging until enough latencies are known for a p95."""


@dataclass(frozen=True)
class Op:
    method: str
    target: str
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    hedge: bool = False
    """Safe to send twice at once: idempotent (reads, a keyed PUT)."""


@dataclass
class _Cached:
    etag: str
    document: Any


class LatencyWindow:
    """Recent answered-request latencies, for the hedge delay (Dean & Barroso, "The Tail at
    Scale": hedge after the p95, so ~5 % extra load buys the tail)."""

    def __init__(self, size: int = 200) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, latency_s: float) -> None:
        self._samples.append(latency_s)

    def __len__(self) -> int:
        return len(self._samples)

    def quantile(self, q: float) -> float:
        ordered = sorted(self._samples)
        if not ordered:
            raise ValueError("no samples")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class ResilientClient(BaseClient):
    name: ClientName = "resilient"

    def __init__(self, config: WorkloadConfig, shared: Shared, *, seed: int | None = None) -> None:
        super().__init__(config, shared, seed=seed)
        d, r = config.defences, config.resilient
        self.defences = d
        self.resolver = ResilientResolver(
            DnsClient(config.dns, client=self.name, metrics=shared.metrics),
            srv_name=config.api.srv_name,
            txt_name=config.dns.txt_name,
            timeout_s=config.dns.timeout_s if d.timeouts else None,
            honour_ttl=d.ttl,
            tcp_fallback=d.tcp_fallback,
        )
        self.timesync: ResilientTimeSync | NaiveTimeSync
        if d.ntp_selection:
            self.timesync = ResilientTimeSync(
                config.ntp.servers,
                self.clock,
                client=self.name,
                metrics=shared.metrics,
                timeout_s=config.ntp.timeout_s,
                burst_size=config.ntp.burst,
            )
        else:
            self.timesync = NaiveTimeSync(
                config.ntp.servers[0],
                self.clock,
                client=self.name,
                metrics=shared.metrics,
                timeout_s=config.ntp.timeout_s,
            )
        self.balancer: Balancer = (
            EwmaBalancer(
                alpha=r.ewma_alpha,
                decay_s=r.ewma_decay_s,
                failure_penalty_s=r.request_timeout_s,
                rng=self.rng,
            )
            if d.ewma
            else RoundRobin()
        )
        self.backoff = Backoff(
            base_s=r.backoff_base_s,
            cap_s=r.backoff_cap_s,
            max_attempts=r.max_attempts if d.retries else 1,
            rng=self.rng,
        )
        self.request_timeout_s = r.request_timeout_s if d.timeouts else None
        self.latencies = LatencyWindow()
        self._cache: dict[str, _Cached] = {}
        self._unseen: set[asyncio.Task[Reply]] = set()
        """Losers of hedge races, left to finish so the balancer learns what they took."""
        self._expired: set[asyncio.Task[Reply]] = set()

    @property
    def deadline_s(self) -> float | None:
        return self.config.resilient.journey_deadline_s if self.defences.timeouts else None

    async def sync_clock(self) -> None:
        await self.timesync.sync_once()

    # -- steps --------------------------------------------------------------------

    async def resolve(self) -> tuple[Endpoint, ...]:
        return await self.resolver.resolve()

    async def write(self, tally: Tally) -> None:
        target, body, headers = self.next_write()
        reply = await self.call(Op("PUT", target, body, headers, hedge=True), tally)
        if reply.headers.get(IDEMPOTENT_REPLAYED, "").lower() == "true":
            self.metrics.write_replays.labels(self.name).inc()

    async def read_catalog(self, tally: Tally) -> list[int]:
        j = self.config.journey
        if self.defences.pagination:
            targets = [
                f"/catalog?page={p}&per_page={j.per_page}" for p in range(1, j.catalog_pages + 1)
            ]
        else:
            targets = ["/catalog"]
        ids: list[int] = []
        for target in targets:
            ids.extend(item_ids(await self._get_document(target, tally)))
        return ids[: j.catalog_pages * j.per_page]

    async def fetch_items(self, ids: list[int], tally: Tally) -> None:
        if not ids:
            return
        if self.defences.batch:
            body = json.dumps({"ids": ids, "format": "compact"}, separators=(",", ":")).encode()
            op = Op("POST", "/catalog/batch", body, {"Content-Type": JSON_TYPE}, hedge=True)
            await self.call(op, tally)
            return
        for item_id in ids:
            await self.call(Op("GET", f"/catalog/items/{item_id}", hedge=True), tally)

    async def _get_document(self, target: str, tally: Tally) -> Any:
        """GET with If-None-Match: a 304 costs headers only and reuses the parsed document."""
        cached = self._cache.get(target) if self.defences.compression_etag else None
        headers = {"If-None-Match": cached.etag} if cached is not None else {}
        reply = await self.call(Op("GET", target, headers=headers, hedge=True), tally)
        if reply.status == 304 and cached is not None:
            self.metrics.not_modified.labels(self.name).inc()
            return cached.document
        if reply.status != 200:
            raise self.refused(reply)
        document = reply.json()
        etag = reply.headers.get("ETag")
        if etag and self.defences.compression_etag:
            self._cache[target] = _Cached(etag, document)
        return document

    # -- one logical request ----------------------------------------------------------

    async def call(self, op: Op, tally: Tally) -> Reply:
        """A final answer (< 400, or a refusal not worth retrying) or the last error."""
        failed: set[Endpoint] = set()
        delays = self.backoff.schedule()
        rediscovered = False
        prefer: Endpoint | None = None
        while True:
            endpoints = await self.resolver.resolve()
            error: RequestFailed | ForgedResponse | Refused
            try:
                reply = await self._attempt(op, endpoints, failed, tally, prefer=prefer)
            except RequestFailed as exc:
                if exc.kind == "connect":  # nobody there: the service may have moved
                    self.resolver.invalidate()
                error = exc
            except ForgedResponse as exc:
                error = exc
                if exc.unknown_key and not rediscovered:
                    rediscovered = True
                    others = [e for e in endpoints if e != exc.endpoint] or list(endpoints)
                    if await self.discover_keys(self.balancer.pick(others), tally):
                        continue
            except Refused as exc:
                error = exc
            else:
                if reply.status == 401 and self.defences.key_discovery and not rediscovered:
                    rediscovered = True
                    if await self.discover_keys(reply.endpoint, tally):
                        continue
                if reply.status < 400:
                    return reply
                raise self.refused(reply)
            patience = self._patience(error)
            prefer = error.endpoint if patience is not None else None
            if prefer is None:
                failed.add(error.endpoint)
            delay = next(delays, None)
            if delay is None:
                raise error
            self.metrics.retries.labels(self.name).inc()
            await asyncio.sleep(max(delay, patience or 0.0))

    def _patience(self, error: Exception) -> float | None:
        """Seconds a refusal asked us to wait before asking its replica again, when we will:
        it said so (Retry-After), and it fits the budget. Hammering a replica that is
        shedding load keeps it down; going elsewhere at once finds the same overload."""
        if not (self.defences.retry_after and isinstance(error, Refused)):
            return None
        wait = error.retry_after_s
        if wait is None or wait > self.config.resilient.retry_after_cap_s:
            return None
        return wait

    def hedge_delay(self) -> float:
        r = self.config.resilient
        if r.hedge_delay_s is not None:
            return r.hedge_delay_s
        if len(self.latencies) < _MIN_SAMPLES_FOR_P95:
            return max(r.hedge_min_delay_s, _FALLBACK_HEDGE_S)
        return max(r.hedge_min_delay_s, self.latencies.quantile(0.95))

    async def _attempt(
        self,
        op: Op,
        endpoints: tuple[Endpoint, ...],
        failed: Collection[Endpoint],
        tally: Tally,
        *,
        prefer: Endpoint | None = None,
    ) -> Reply:
        """``prefer``: the replica to ask, when it told us to come back (Retry-After)."""
        primary = prefer if prefer in endpoints else self.balancer.pick(endpoints, exclude=failed)
        others = [e for e in endpoints if e.node != primary.node and e != primary]
        if not (op.hedge and self.defences.hedging and others):
            return await self._one(primary, op, tally)
        started: dict[asyncio.Task[Reply], float] = {}
        first = asyncio.create_task(self._one(primary, op, tally))
        started[first] = time.perf_counter()
        tasks = [first]
        try:
            done, _ = await asyncio.wait(tasks, timeout=self.hedge_delay())
            if done:
                return first.result()
            second = asyncio.create_task(
                self._one(self.balancer.pick(others, exclude=failed), op, tally)
            )
            started[second] = time.perf_counter()
            tasks.append(second)
            reply = await self._race(first, second)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        for task in tasks:
            if not task.done():
                self._finish_unseen(task, started[task])
        return reply

    def _finish_unseen(self, task: asyncio.Task[Reply], started: float) -> None:
        """Let the loser of a hedge race run on, unseen by the journey, until it answers
        or a request deadline after its start has passed: then the balancer learns what
        it really took — or that it took at least the deadline — rather than the partial
        wait of a request cut short (which would make a slow replica look fast)."""
        deadline = started + self.config.resilient.request_timeout_s
        loop = asyncio.get_running_loop()
        timer = loop.call_later(max(0.0, deadline - time.perf_counter()), self._expire, task)
        self._unseen.add(task)

        def done(finished: asyncio.Task[Reply]) -> None:
            timer.cancel()
            self._unseen.discard(finished)
            self._expired.discard(finished)
            if not finished.cancelled():
                finished.exception()  # retrieved: an unseen failure is the balancer's

        task.add_done_callback(done)

    def _expire(self, task: asyncio.Task[Reply]) -> None:
        if not task.done():
            self._expired.add(task)
            task.cancel()

    async def close(self) -> None:
        for task in list(self._unseen):
            task.cancel()
        await asyncio.gather(*self._unseen, return_exceptions=True)
        await super().close()

    async def _race(self, first: asyncio.Task[Reply], second: asyncio.Task[Reply]) -> Reply:
        """The first genuine answer of two; the hedge ``won`` if it was the second's."""
        pending: set[asyncio.Task[Reply]] = {first, second}
        error: BaseException | None = None
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=lambda t: t is second):
                exc = task.exception()
                if exc is None:
                    outcome = "won" if task is second else "lost"
                    self.metrics.hedges.labels(self.name, outcome).inc()
                    return task.result()
                error = exc
        self.metrics.hedges.labels(self.name, "lost").inc()
        assert error is not None
        raise error

    async def _one(self, endpoint: Endpoint, op: Op, tally: Tally) -> Reply:
        """One exchange with one replica, judged: a genuine, final answer or an error.

        What the balancer learns: the answer's latency; a failure, a forgery or a 5xx
        as a failure; the loser of a hedge race still unanswered at its deadline as
        that deadline; a request cancelled for any other reason (the journey's own
        deadline, shutting down) not at all.
        """
        coding = "gzip" if self.defences.compression_etag else "identity"
        headers = {
            "Accept-Encoding": coding,
            **op.headers,
            **self.sign(op.method, op.target, op.body),
        }
        self.balancer.started(endpoint)
        started = time.perf_counter()
        try:
            reply = await self.http.send(
                endpoint,
                op.method,
                op.target,
                tally=tally,
                body=op.body,
                headers=headers,
                timeout=self.request_timeout_s,
            )
        except RequestFailed as exc:
            self.balancer.finished(endpoint, None)
            await self.classify(exc)
            raise
        except asyncio.CancelledError:
            if asyncio.current_task() in self._expired:
                waited = time.perf_counter() - started
                self.balancer.finished(
                    endpoint, max(waited, self.config.resilient.request_timeout_s)
                )
            else:
                self.balancer.cancelled(endpoint)
            raise
        try:
            self._judge(reply)
        except ForgedResponse:
            self.balancer.finished(endpoint, None)
            raise
        failed = reply.status == 429 or reply.status >= 500
        refusal = self.refused(reply) if failed else None
        if refusal is not None and self._patience(refusal) is not None:
            self.balancer.cancelled(endpoint)  # alive and prompt: it said when to come back
        else:
            self.balancer.finished(endpoint, None if failed else reply.elapsed)
        self.latencies.add(reply.elapsed)
        if reply.status in (401, 403):
            self.count_refusal(reply)
        if refusal is not None:
            raise refusal
        return reply

    def _judge(self, reply: Reply) -> None:
        if bare_refusal(reply):
            return
        if not self.defences.verify_signatures:
            self.witness(reply)
            return
        try:
            self.credentials.verify(
                reply.method, reply.target, reply.status, reply.body, reply.headers
            )
        except SignatureError as exc:
            self.metrics.forged_responses.labels(self.name, "rejected").inc()
            unknown = exc.reason == INVALID_KEY_ID and self.defences.key_discovery
            raise ForgedResponse(reply.endpoint, f"rejected: {exc}", unknown_key=unknown) from None

    # -- keys -----------------------------------------------------------------------

    async def discover_keys(self, endpoint: Endpoint, tally: Tally) -> bool:
        """Fetch current keys with the bootstrap token; True when new credentials are in."""
        token = self.config.api.bootstrap_token
        outcome = "failed"
        try:
            reply = await self.http.send(
                endpoint,
                "GET",
                DISCOVERY_PATH,
                tally=tally,
                headers={BOOTSTRAP_TOKEN: token, "Accept-Encoding": "gzip"},
                timeout=self.request_timeout_s,
            )
            if self.defences.verify_signatures:
                verify_response(
                    "GET",
                    DISCOVERY_PATH,
                    reply.status,
                    reply.body,
                    reply.headers,
                    {BOOTSTRAP_KEY_ID: token},
                )
            if reply.status != 200:
                return False
            request_key, response_keys = parse_discovery(reply.json())
            if request_key is None:
                return False
            self.credentials.key_id, self.credentials.secret = request_key
            self.credentials.response_secrets = response_keys or self.credentials.response_secrets
            self.shared.key_book.learn(response_keys)
            outcome = "ok"
            return True
        except SignatureError:
            self.metrics.forged_responses.labels(self.name, "rejected").inc()
            return False
        except (RequestFailed, ValueError) as exc:
            log.debug("key discovery at %s failed: %s", endpoint.node, exc)
            return False
        finally:
            self.metrics.key_discoveries.labels(self.name, outcome).inc()
