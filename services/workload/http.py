"""Sending one HTTP request and measuring its journey: bytes, cost, hops, latency.

    request start ─► [connect] ─► headers + body sent ─► status + headers ─► body read
                     └ connect ┘ └────── request ─────┘ └──────── response ─────────┘
                     └ connect ┘ └─────── send ───────┘ └──── wait ────┘ └── body ──┘

The metrics keep the hops in aggregate (``hop_duration``); the journey's trace
(``trace.py``) keeps them per request, the second line, wait split at the first byte.

aiohttp's ``TraceConfig`` marks each boundary; ``connect`` is observed only when a
new connection was opened (a pooled one costs nothing, which is the point of
keeping it). Bytes are counted as they travel: the request line, headers and body
sent; the status line, headers and body received *before* decompression. Bodies
are decoded here, not by aiohttp, so the wire size stays visible.

Errors come out as ``RequestFailed`` (no answer) — any HTTP status is an answer and
is returned as a ``Reply`` for the client to judge.

Both clients keep aiohttp's defaults: its session timeout (5 minutes in all, 30 s to
connect) and its ``Accept-Encoding: gzip, deflate``. Only the resilient client adds
a deadline of its own per request, and it may ask for ``identity`` when its
``compression_etag`` defence is switched off.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from services.workload._types import ClientName, Endpoint
from services.workload.config import Prices
from services.workload.errors import RequestFailed
from services.workload.metrics import WorkloadMetrics
from services.workload.trace import record


@dataclass
class Tally:
    """What one journey spent on HTTP."""

    requests: int = 0
    sent_bytes: int = 0
    received_bytes: int = 0

    @property
    def bytes(self) -> int:
        return self.sent_bytes + self.received_bytes


@dataclass(frozen=True)
class Reply:
    endpoint: Endpoint
    method: str
    target: str
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    """Decoded (gunzipped) body: what signatures cover and what the client reads."""
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def reason(self) -> str | None:
        """The API's refusal code from an ``{error, status, reason}`` body, if any."""
        try:
            doc = self.json()
        except ValueError:
            return None
        reason = doc.get("reason") if isinstance(doc, dict) else None
        return reason if isinstance(reason, str) else None


@dataclass
class _Hops:
    start: float = 0.0
    connect_start: float | None = None
    connect_end: float | None = None
    sent_at: float | None = None
    headers_at: float | None = None
    """Status line and headers read: the first byte's time, give or take a packet."""
    done_at: float | None = None
    sent_bytes: int = 0


def _trace_config() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()

    def hops(ctx: SimpleNamespace) -> _Hops | None:
        found = ctx.trace_request_ctx
        return found if isinstance(found, _Hops) else None

    async def on_start(_: Any, ctx: SimpleNamespace, __: Any) -> None:
        if (h := hops(ctx)) is not None:
            h.start = time.perf_counter()

    async def on_connect_start(_: Any, ctx: SimpleNamespace, __: Any) -> None:
        if (h := hops(ctx)) is not None:
            h.connect_start = time.perf_counter()

    async def on_connect_end(_: Any, ctx: SimpleNamespace, __: Any) -> None:
        if (h := hops(ctx)) is not None:
            h.connect_end = time.perf_counter()

    async def on_headers_sent(
        _: Any, ctx: SimpleNamespace, params: aiohttp.TraceRequestHeadersSentParams
    ) -> None:
        if (h := hops(ctx)) is not None:
            line = len(params.method) + len(params.url.raw_path_qs) + len(" HTTP/1.1\r\n") + 1
            fields = sum(len(k) + len(v) + 4 for k, v in params.headers.items())
            h.sent_bytes += line + fields + 2
            h.sent_at = time.perf_counter()

    async def on_chunk_sent(
        _: Any, ctx: SimpleNamespace, params: aiohttp.TraceRequestChunkSentParams
    ) -> None:
        if (h := hops(ctx)) is not None:
            h.sent_bytes += len(params.chunk)
            h.sent_at = time.perf_counter()

    async def on_end(_: Any, ctx: SimpleNamespace, __: Any) -> None:
        if (h := hops(ctx)) is not None:
            h.headers_at = time.perf_counter()

    trace.on_request_start.append(on_start)
    trace.on_request_end.append(on_end)
    trace.on_connection_create_start.append(on_connect_start)
    trace.on_connection_create_end.append(on_connect_end)
    trace.on_request_headers_sent.append(on_headers_sent)
    trace.on_request_chunk_sent.append(on_chunk_sent)
    return trace


def _trace_hops(hops: _Hops, name: str, replica: str, outcome: str | None) -> None:
    """The request's hops as spans of the journey; the last one open ends where it failed."""
    end = hops.done_at if hops.done_at is not None else time.perf_counter()
    detail = f"{replica} · {outcome}" if outcome else replica
    marks = [
        ("connect", hops.connect_start, hops.connect_end),
        ("send", hops.connect_end or hops.start, hops.sent_at),
        ("wait", hops.sent_at, hops.headers_at),
        ("body", hops.headers_at, hops.done_at),
    ]
    for kind, start, stop in marks:
        if start is None:
            continue
        record(kind, name, start, stop if stop is not None else end, detail)
        if stop is None:
            return


def _received_size(response: aiohttp.ClientResponse, body: bytes) -> int:
    status_line = len(f"HTTP/1.1 {response.status} {response.reason or ''}\r\n")
    fields = sum(len(k) + len(v) + 4 for k, v in response.raw_headers)
    return status_line + fields + 2 + len(body)


def decode_body(raw: bytes, coding: str | None) -> bytes:
    if not coding or coding.lower() == "identity":
        return raw
    if coding.lower() in ("gzip", "x-gzip"):
        return gzip.decompress(raw)
    if coding.lower() == "deflate":
        return zlib.decompress(raw)
    raise ValueError(f"unsupported Content-Encoding {coding!r}")


class HttpClient:
    """One client's connection pool and request accounting.

    ``timeout`` None leaves aiohttp's session default as the only limit (the naive
    client); otherwise each request must be answered and read within that many seconds.
    """

    def __init__(
        self,
        *,
        client: ClientName,
        metrics: WorkloadMetrics,
        prices: Prices,
        user_agent: str = "fallacies-workload",
    ) -> None:
        self.client = client
        self.metrics = metrics
        self.prices = prices
        self.user_agent = f"{user_agent} ({client})"
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                auto_decompress=False,
                trace_configs=[_trace_config()],
                headers={"User-Agent": self.user_agent},
            )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def send(
        self,
        endpoint: Endpoint,
        method: str,
        target: str,
        *,
        tally: Tally,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """Send and read the whole answer; raise ``RequestFailed`` when there is none."""
        if self._session is None:
            raise RuntimeError("HttpClient is not started")
        m = self.metrics
        replica = m.replica_label(endpoint.node)
        m.requests.labels(self.client, replica).inc()
        m.requests_in_flight.labels(self.client).inc()
        tally.requests += 1
        hops = _Hops(start=time.perf_counter())
        received = 0
        failure: str | None = None
        try:
            async with asyncio.timeout(timeout):
                async with self._session.request(
                    method,
                    URL(endpoint.url(target), encoded=True),
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    trace_request_ctx=hops,
                ) as response:
                    raw = await response.read()
                    done = time.perf_counter()
                    hops.done_at = done
                    failure = f"HTTP {response.status}"
                    received = _received_size(response, raw)
                    decoded = decode_body(raw, response.headers.get("Content-Encoding"))
                    reply = Reply(
                        endpoint,
                        method,
                        target,
                        response.status,
                        response.headers,
                        decoded,
                        done - hops.start,
                    )
        except TimeoutError:
            limit = f"{timeout} s" if timeout is not None else "aiohttp's session timeout"
            failure = "timeout"
            raise RequestFailed(endpoint, "timeout", f"no answer within {limit}") from None
        except aiohttp.ClientConnectorError as exc:
            failure = "connect failed"
            raise RequestFailed(endpoint, "connect", str(exc)) from None
        except (aiohttp.ClientError, OSError, ValueError, EOFError, zlib.error) as exc:
            failure = type(exc).__name__
            raise RequestFailed(endpoint, "network", repr(exc)) from None
        except asyncio.CancelledError:
            failure = "cancelled"
            raise
        finally:
            m.requests_in_flight.labels(self.client).dec()
            self._account(tally, hops.sent_bytes, received)
            _trace_hops(hops, f"{method} {target}", endpoint.node, failure)
        self._observe_hops(hops, done)
        m.replica_latency.labels(self.client, replica).observe(reply.elapsed)
        return reply

    def _account(self, tally: Tally, sent: int, received: int) -> None:
        tally.sent_bytes += sent
        tally.received_bytes += received
        m = self.metrics
        m.sent_bytes.labels(self.client).inc(sent)
        m.received_bytes.labels(self.client).inc(received)
        cost = (sent + received) / 1e9 * self.prices.per_gb + self.prices.per_request
        m.transport_cost.labels(self.client).inc(cost)

    def _observe_hops(self, hops: _Hops, done: float) -> None:
        hop = self.metrics.hop_duration
        if hops.connect_start is not None and hops.connect_end is not None:
            hop.labels(self.client, "connect").observe(hops.connect_end - hops.connect_start)
        ready = hops.connect_end if hops.connect_end is not None else hops.start
        if hops.sent_at is not None:
            hop.labels(self.client, "request").observe(max(0.0, hops.sent_at - ready))
            hop.labels(self.client, "response").observe(max(0.0, done - hops.sent_at))
