"""The user journey both clients run, and the one outcome each run ends in.

    1 resolve   SRV + A for the API, TXT for the (large) flags record
    2 write     PUT /kv/{key}, signed, with an Idempotency-Key
    3 catalog   the pages the user looks at (whole catalog, or gzip + ETag pages)
    4 items     N items from those pages (N calls, or one batch)
    5 verify    every answer's signature (resilient; inside each step)

Whatever goes wrong becomes one label from ``metrics.OUTCOMES``; a failure nobody
foresaw is ``error`` and is logged once per exception type, so the workload keeps
running and the gap is visible rather than fatal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from services.api.signing import REQUEST_TIME_TOO_SKEWED
from services.workload.client import BaseClient
from services.workload.errors import DnsError, ForgedResponse, Refused, RequestFailed
from services.workload.http import Tally
from services.workload.trace import Trace, record, tracing

log = logging.getLogger(__name__)


def outcome_of(exc: BaseException) -> str:
    if isinstance(exc, DnsError):
        return "dns_failure"
    if isinstance(exc, RequestFailed):
        if exc.stale:
            return "stale_endpoint"
        return "timeout" if exc.kind == "timeout" else "network_error"
    if isinstance(exc, Refused):
        if exc.status == 403 and exc.reason == REQUEST_TIME_TOO_SKEWED:
            return "rejected_skew"
        return "rejected_key" if exc.status == 401 else "http_error"
    if isinstance(exc, ForgedResponse):
        return "forged"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ValueError | KeyError | TypeError):
        return "http_error"
    return "error"


@contextmanager
def _step(client: BaseClient, step: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        ended = time.perf_counter()
        client.metrics.step_duration.labels(client.name, step).observe(ended - started)
        record("step", step, started, ended)


async def _steps(client: BaseClient, tally: Tally) -> None:
    with _step(client, "resolve"):
        endpoints = await client.resolve()
    client.status.endpoints = [f"{e.node}={e.address}" for e in endpoints]
    with _step(client, "write"):
        await client.write(tally)
    with _step(client, "catalog"):
        ids = await client.read_catalog(tally)
    with _step(client, "items"):
        await client.fetch_items(client.pick_items(ids), tally)


async def run_journey(client: BaseClient) -> str:
    """One journey, measured; returns its outcome. Cancellation propagates uncounted."""
    m, name = client.metrics, client.name
    tally = Tally()
    trace = Trace()
    started = trace.started
    m.journey_started(name)
    error: str | None = None
    try:
        with tracing(trace):
            async with asyncio.timeout(client.deadline_s):
                await _steps(client, tally)
        outcome = "ok"
    except Exception as exc:
        outcome = outcome_of(exc)
        error = f"{type(exc).__name__}: {exc}"
        if outcome == "error" and type(exc).__name__ not in client.logged_errors:
            client.logged_errors.add(type(exc).__name__)
            log.warning("%s journey failed unexpectedly", name, exc_info=True)
    finally:
        m.journey_ended(name)
    duration = time.perf_counter() - started
    client.journeys.done(trace, duration, outcome)
    m.journeys.labels(name, outcome).inc()
    m.journey_duration.labels(name).observe(duration)
    m.journey_requests.labels(name).observe(tally.requests)
    m.journey_bytes.labels(name).observe(tally.bytes)
    status = client.status
    status.journeys[outcome] = status.journeys.get(outcome, 0) + 1
    status.last_outcome = outcome
    status.last_duration_s = duration
    if error is not None:
        status.last_error = error[:300]
    return outcome


async def run_forever(client: BaseClient, interval_s: float) -> None:
    """Journeys back to back, ``interval_s`` apart; never more than one at a time."""
    while True:
        await run_journey(client)
        await asyncio.sleep(interval_s)


async def sync_forever(client: BaseClient, interval_s: float) -> None:
    with tracing(client.journeys.clock):
        while True:
            try:
                await client.sync_clock()
            except Exception:
                log.warning("%s clock sync failed", client.name, exc_info=True)
            client.journeys.synced()
            await asyncio.sleep(interval_s)
