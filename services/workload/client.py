"""What both clients share: an identity, a clock, credentials and the journey's four steps.

The two subclasses differ only in *how* they take each step (``naive.py``,
``resilient.py``); the journey (``journey.py``) runs the same steps on both. The
measurements that need no defence — counting refusals, noticing out of band that
an accepted answer was forged, telling a moved endpoint from a flaky one — live
here, so both clients are measured alike.
"""

from __future__ import annotations

import abc
import email.utils
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from services.api.headers import IDEMPOTENCY_KEY
from services.api.signing import HEADER_RESPONSE_SIGNATURE
from services.workload._types import ClientName, Endpoint
from services.workload.clock import ClientClock
from services.workload.config import WorkloadConfig
from services.workload.errors import Refused, RequestFailed
from services.workload.http import HttpClient, Reply, Tally
from services.workload.keys import Credentials, KeyBook
from services.workload.metrics import WorkloadMetrics
from services.workload.resolver import EndpointOracle
from services.workload.trace import Journeys

JSON_TYPE = "application/json"


@dataclass
class Shared:
    """The workload's measuring instruments, common to both clients."""

    metrics: WorkloadMetrics
    key_book: KeyBook
    oracle: EndpointOracle


@dataclass
class ClientStatus:
    """For ``/status``: what a person looking at the workload wants to know at a glance."""

    journeys: dict[str, int] = field(default_factory=dict)
    last_outcome: str | None = None
    last_error: str | None = None
    last_duration_s: float | None = None
    endpoints: list[str] = field(default_factory=list)


class BaseClient(abc.ABC):
    name: ClientName

    def __init__(self, config: WorkloadConfig, shared: Shared, *, seed: int | None) -> None:
        self.config = config
        self.shared = shared
        self.metrics = shared.metrics
        self.clock = ClientClock()
        self.credentials = Credentials(
            key_id=config.api.key_id,
            secret=config.api.secret,
            response_secrets=dict(config.api.response_keys),
        )
        self.http = HttpClient(client=self.name, metrics=shared.metrics, prices=config.prices)
        self.rng = random.Random(None if seed is None else f"{seed}:{self.name}")
        self.status = ClientStatus()
        self.journeys = Journeys()
        """The last journeys' spans (``trace.py``), for ``GET /journeys``."""
        self.logged_errors: set[str] = set()
        """Exception types already logged as unexpected: one log line each, not one per second."""
        self._write_seq = 0

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        await self.http.start()

    async def close(self) -> None:
        await self.http.close()

    @abc.abstractmethod
    async def sync_clock(self) -> None: ...

    # -- the journey's steps ----------------------------------------------------

    @abc.abstractmethod
    async def resolve(self) -> tuple[Endpoint, ...]: ...

    @abc.abstractmethod
    async def write(self, tally: Tally) -> None: ...

    @abc.abstractmethod
    async def read_catalog(self, tally: Tally) -> list[int]:
        """Item ids on the pages the user looks at."""

    @abc.abstractmethod
    async def fetch_items(self, ids: list[int], tally: Tally) -> None: ...

    @property
    def deadline_s(self) -> float | None:
        """Seconds a whole journey may take; None waits as long as it takes."""
        return None

    def pick_items(self, ids: list[int]) -> list[int]:
        return self.rng.sample(ids, min(self.config.journey.items, len(ids)))

    # -- shared pieces ------------------------------------------------------------

    def next_write(self) -> tuple[str, bytes, dict[str, str]]:
        """Target, body and headers of this journey's write, with a fresh Idempotency-Key."""
        self._write_seq += 1
        key = f"{self.name}-{self._write_seq % self.config.journey.write_keys}"
        body = json.dumps(
            {"value": {"client": self.name, "seq": self._write_seq, "at": self.clock.time()}},
            separators=(",", ":"),
        ).encode()
        # Never from the seeded RNG: a replayed run must not reuse a live run's keys.
        headers = {IDEMPOTENCY_KEY: uuid.uuid4().hex, "Content-Type": JSON_TYPE}
        return f"/kv/{key}", body, headers

    def sign(self, method: str, target: str, body: bytes | None) -> dict[str, str]:
        """Signed with this client's own clock: a skewed clock is a skewed timestamp."""
        return self.credentials.sign(method, target, body, self.clock.time())

    def count_refusal(self, reply: Reply) -> None:
        if reply.status in (401, 403):
            reason = self.metrics.reject_label(reply.reason)
            self.metrics.rejects.labels(self.name, reason).inc()

    def refused(self, reply: Reply) -> Refused:
        try:
            doc = reply.json()
            message = str(doc.get("error", "")) if isinstance(doc, dict) else ""
        except ValueError:
            message = reply.body[:80].decode(errors="replace")
        return Refused(
            reply.endpoint,
            reply.status,
            reply.reason,
            message,
            retry_after_s=retry_after_s(reply.headers.get("Retry-After")),
        )

    def witness(self, reply: Reply) -> None:
        """Measure, don't defend: count an unverified answer as an accepted forgery if it is one."""
        if bare_refusal(reply):
            return
        if not self.shared.key_book.genuine(
            reply.method, reply.target, reply.status, reply.body, reply.headers
        ):
            self.metrics.forged_responses.labels(self.name, "accepted").inc()

    async def classify(self, exc: RequestFailed) -> None:
        """Mark a connection failure as stale when DNS no longer publishes that endpoint."""
        if exc.kind == "timeout":
            return
        if await self.shared.oracle.is_stale(exc.endpoint):
            exc.stale = True
            self.metrics.stale_endpoint_errors.labels(self.name).inc()


def bare_refusal(reply: Reply) -> bool:
    """An unsigned 429 or 503: a load balancer's or a gateway's "not now", which carries no
    data to trust. Taking it at its word costs at most a capped wait, so it is judged as a
    refusal, neither verified nor counted as a forgery."""
    return reply.status in (429, 503) and HEADER_RESPONSE_SIGNATURE not in reply.headers


def retry_after_s(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def item_ids(document: Any) -> list[int]:
    """Ids from a catalog document or page (``{"items": [{"id": ...}, ...]}``)."""
    items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise ValueError("catalog document without items")
    return [
        item["id"] for item in items if isinstance(item, dict) and isinstance(item.get("id"), int)
    ]
