"""``promql``: a query against any Prometheus, compared with a threshold — now, or at every
step of a window (``window: 30s``: the condition held for the last 30 seconds).

Every series the query returns must hold; none at all is a failure, not a pass, since
a metric that vanished under a fault is the failure one wants to see.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from chaos.probes.base import (
    Measurement,
    Probe,
    ProbeSpecError,
    compare,
    comparison,
    known_fields,
    seconds,
    shown,
    typed,
)

DEFAULT_TIMEOUT_S = 5.0


class PromqlProbe(Probe):
    kind = "promql"

    def __init__(
        self,
        url: str,
        query: str,
        op: str,
        threshold: float,
        *,
        window_s: float | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.url = url.rstrip("/")
        self.query = query
        self.op = op
        self.threshold = threshold
        self.window_s = window_s
        self.timeout_s = timeout_s

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> PromqlProbe:
        known_fields(spec, ("url", "query", "op", "threshold"), ("window", "timeout"))
        url = typed(spec, "url", str, "")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProbeSpecError("url", f"{url!r} is not Prometheus' http:// or https:// URL")
        query = typed(spec, "query", str, "").strip()
        if not query:
            raise ProbeSpecError("query", "must be a PromQL expression")
        op, threshold = comparison(spec)
        return cls(
            url,
            query,
            op,
            threshold,
            window_s=seconds(spec, "window", None),
            timeout_s=seconds(spec, "timeout", DEFAULT_TIMEOUT_S) or DEFAULT_TIMEOUT_S,
        )

    def describe(self) -> str:
        over = f" for the last {shown(self.window_s)} s" if self.window_s else ""
        return f"{self.query} {self.op} {shown(self.threshold)}{over}"

    async def measure(self, session: aiohttp.ClientSession) -> Measurement:
        if self.window_s:
            end = time.time()
            path, params = (
                "query_range",
                {
                    "query": self.query,
                    "start": f"{end - self.window_s:.3f}",
                    "end": f"{end:.3f}",
                    "step": "1",
                },
            )
        else:
            path, params = "query", {"query": self.query}
        try:
            async with asyncio.timeout(self.timeout_s):
                async with session.get(f"{self.url}/api/v1/{path}", params=params) as response:
                    body = await response.json(content_type=None)
        except TimeoutError:
            return Measurement(
                False, None, f"Prometheus gave no answer in {shown(self.timeout_s)} s"
            )
        except (aiohttp.ClientError, ValueError) as exc:
            return Measurement(False, None, f"Prometheus: {type(exc).__name__}: {exc}")
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else body
            return Measurement(False, None, f"Prometheus refused the query: {error}")
        values = _values(body.get("data", {}))
        if not values:
            return Measurement(False, None, "the query returned no series")
        wrong = [
            v for v in values if not math.isfinite(v) or not compare(v, self.op, self.threshold)
        ]
        if wrong:
            return Measurement(
                False,
                wrong[0],
                f"{len(wrong)} of {len(values)} values fail, e.g. {shown(wrong[0])}",
            )
        worst = max(values) if self.op in ("<", "<=") else min(values)
        return Measurement(True, worst)


def _values(data: Any) -> list[float]:
    """Every sample of a scalar, vector or matrix answer, as floats."""
    if not isinstance(data, dict):
        return []
    result = data.get("result")
    kind = data.get("resultType")
    pairs: list[Any] = []
    if kind == "scalar" and isinstance(result, list):
        pairs = [result]
    elif kind == "vector" and isinstance(result, list):
        pairs = [series.get("value") for series in result if isinstance(series, dict)]
    elif kind == "matrix" and isinstance(result, list):
        for series in result:
            if isinstance(series, dict) and isinstance(series.get("values"), list):
                pairs.extend(series["values"])
    values = []
    for pair in pairs:
        try:
            values.append(float(pair[1]))
        except (TypeError, ValueError, IndexError):
            continue
    return values
