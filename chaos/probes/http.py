"""``http``: one request; passes on the expected status, within a latency bound, with a body
that contains a given text. Its value is the latency, so a report shows how slow it got."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from chaos.probes.base import (
    Measurement,
    Probe,
    ProbeSpecError,
    known_fields,
    seconds,
    shown,
    typed,
)

_BREAKS = frozenset("\r\n\0")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_TIMEOUT_S = 5.0
MAX_BODY_BYTES = 1 << 20
"""``body_contains`` looks this far into a body: a stream is not read to its end."""


class HttpProbe(Probe):
    kind = "http"
    unit = "seconds"

    def __init__(
        self,
        url: str,
        *,
        method: str = "GET",
        status: tuple[int, ...] = (200,),
        max_latency_s: float | None = None,
        body_contains: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url
        self.method = method
        self.status = status
        self.max_latency_s = max_latency_s
        self.body_contains = body_contains
        self.timeout_s = timeout_s
        self.headers = dict(headers or {})

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> HttpProbe:
        known_fields(
            spec,
            ("url",),
            ("method", "status", "max_latency", "body_contains", "timeout", "headers"),
        )
        url = typed(spec, "url", str, "")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProbeSpecError("url", f"{url!r} is not an http:// or https:// URL")
        method = typed(spec, "method", str, "GET").upper()
        if method not in METHODS:
            raise ProbeSpecError("method", f"{method!r} is not one of {', '.join(METHODS)}")
        raw = spec.get("status", 200)
        codes = raw if isinstance(raw, list) else [raw]
        if not codes or not all(
            isinstance(c, int) and not isinstance(c, bool) and 100 <= c <= 599 for c in codes
        ):
            raise ProbeSpecError(
                "status", f"{raw!r} is not a status code (100-599) or a list of them"
            )
        max_latency = seconds(spec, "max_latency", None)
        timeout = seconds(spec, "timeout", None)
        if timeout is None:
            timeout = max(DEFAULT_TIMEOUT_S, 2 * max_latency) if max_latency else DEFAULT_TIMEOUT_S
        elif max_latency is not None and max_latency > timeout:
            raise ProbeSpecError(
                "max_latency", "is longer than timeout; it could never be measured"
            )
        body = spec.get("body_contains")
        if body is not None and not (isinstance(body, str) and body):
            raise ProbeSpecError("body_contains", "must be a non-empty text")
        headers = spec.get("headers", {})
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and not _BREAKS & set(k + v)
            for k, v in headers.items()
        ):
            raise ProbeSpecError("headers", "must map header names to one-line text values")
        return cls(
            url,
            method=method,
            status=tuple(codes),
            max_latency_s=max_latency,
            body_contains=body,
            timeout_s=timeout,
            headers=headers,
        )

    def describe(self) -> str:
        wanted = [f"status {'/'.join(map(str, self.status))}"]
        if self.max_latency_s is not None:
            wanted.append(f"within {shown(self.max_latency_s)} s")
        if self.body_contains is not None:
            wanted.append(f"body contains {self.body_contains!r}")
        return f"{self.method} {self.url}: {', '.join(wanted)}"

    async def measure(self, session: aiohttp.ClientSession) -> Measurement:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout_s):
                async with session.request(
                    self.method, self.url, headers=self.headers, allow_redirects=False
                ) as response:
                    status = response.status
                    body = ""
                    if self.body_contains is not None:
                        raw = await response.content.read(MAX_BODY_BYTES)
                        body = raw.decode(errors="replace")
        except TimeoutError:
            return Measurement(False, None, f"no answer in {shown(self.timeout_s)} s")
        except aiohttp.ClientError as exc:
            return Measurement(False, None, f"{type(exc).__name__}: {exc}")
        took = time.monotonic() - started
        if status not in self.status:
            wanted = "/".join(map(str, self.status))
            return Measurement(False, took, f"status {status}, wanted {wanted}")
        if self.max_latency_s is not None and took > self.max_latency_s:
            return Measurement(
                False, took, f"took {shown(took)} s, at most {shown(self.max_latency_s)} s wanted"
            )
        if self.body_contains is not None and self.body_contains not in body:
            return Measurement(False, took, f"the body lacks {self.body_contains!r}")
        return Measurement(True, took)
