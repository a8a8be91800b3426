"""The sampler: every node's ``/metrics``, scraped concurrently into one ``Snapshot``.

The runner calls ``scrape(t)`` once a second. A target that fails or is slower than
``timeout`` simply contributes nothing that round (``failures[node]`` counts it);
the window helpers read its absence as "not scraped", not as a reset. Each sample
keeps its raw name (``_total``, ``_bucket``, ``_sum``, ``_count``) and gains
``node="<target name>"``; ``_created`` series are dropped before parsing — they are
timestamps no signal reads, a fifth of the workload's exposition, and parsing is
what a scrape costs (``python bench/bench_signals.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from types import TracebackType

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from chaos.signals.base import SeriesKey, Snapshot
from chaos.signals.window import NODE, SeriesMap

__all__ = ["Sampler", "parse_exposition"]

_CREATED_PARENTS = frozenset({"counter", "histogram", "summary"})
_HEADERS = {
    # The 0.0.4 text format, uncompressed: on loopback gzip only costs the scraped
    # node CPU — and the workload's CPU is what its latency metrics measure.
    "Accept": "text/plain;version=0.0.4",
    "Accept-Encoding": "identity",
}


def _without_created(text: str) -> str:
    """The exposition minus the ``<name>_created`` gauges of counters and histograms.

    prometheus_client writes them as separate gauge families right after their
    parent, so one pass knows every name to drop; a gauge that merely ends in
    ``_created`` without such a parent is kept.
    """
    created: set[str] = set()
    kept: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[2] in created:
                continue
            if len(parts) == 4 and parts[1] == "TYPE" and parts[3].strip() in _CREATED_PARENTS:
                base = parts[2]
                if parts[3].strip() == "counter" and base.endswith("_total"):
                    base = base[: -len("_total")]
                created.add(base + "_created")
        elif created:
            end = len(line)
            for stop in ("{", " "):
                found = line.find(stop)
                if 0 <= found < end:
                    end = found
            if line[:end] in created:
                continue
        kept.append(line)
    kept.append("")
    return "\n".join(kept)


def parse_exposition(text: str, node: str) -> dict[SeriesKey, float]:
    """Prometheus text exposition → ``{(sample name, sorted labels + node): value}``.

    A ``node`` label the target exposes itself is kept as ``exported_node``, the way
    Prometheus resolves the same clash.
    """
    values: dict[SeriesKey, float] = {}
    for family in text_string_to_metric_families(_without_created(text)):
        for sample in family.samples:
            labels = dict(sample.labels)
            if NODE in labels:
                labels["exported_node"] = labels.pop(NODE)
            labels[NODE] = node
            values[(sample.name, tuple(sorted(labels.items())))] = float(sample.value)
    return values


class Sampler:
    """Scrapes ``targets`` (node name → metrics URL) concurrently, one snapshot per call.

    Pass the runner's ``session`` to share its connection pool (it is not closed
    here); without one the sampler opens its own and ``close()`` (or ``async with``)
    releases it. ``timeout`` (seconds) bounds each target's fetch: below the 1 s
    sampling period so a hung node cannot delay the next round.
    """

    def __init__(
        self,
        targets: Mapping[str, str],
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 0.8,
    ) -> None:
        self.targets = dict(targets)
        self.timeout = timeout
        self._session = session
        self._own_session = session is None
        self.failures: dict[str, int] = dict.fromkeys(self.targets, 0)
        """Rounds in which the node contributed nothing (error, timeout, bad status or text)."""
        self.last_error: dict[str, str] = {}
        """The most recent failure per node, for logs and the journal."""
        self.parse_seconds: dict[str, float] = {}
        """CPU time the last successful parse of each node took (seconds)."""
        self.scrapes = 0

    async def scrape(self, t: float) -> Snapshot:
        """Fetch and parse every target concurrently; ``t`` is seconds since the run started."""
        session = self._open()
        parts = await asyncio.gather(
            *(self._fetch(session, node, url) for node, url in self.targets.items())
        )
        self.scrapes += 1
        values: dict[SeriesKey, float] = {}
        nodes: list[str] = []
        for node, part in zip(self.targets, parts, strict=True):
            if part is not None:
                values.update(part)
                nodes.append(node)
        return Snapshot(t=t, values=SeriesMap(values, nodes=nodes))

    async def _fetch(
        self, session: aiohttp.ClientSession, node: str, url: str
    ) -> dict[SeriesKey, float] | None:
        try:
            async with session.get(
                url, headers=_HEADERS, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as response:
                if response.status != 200:
                    raise ValueError(f"HTTP {response.status}")
                text = await response.text()
            started = time.perf_counter()
            parsed = parse_exposition(text, node)
            self.parse_seconds[node] = time.perf_counter() - started
            return parsed
        except (aiohttp.ClientError, TimeoutError, ValueError, UnicodeError) as exc:
            # ValueError also covers the parser's complaints about a garbled exposition.
            self.failures[node] = self.failures.get(node, 0) + 1
            self.last_error[node] = (
                f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            )
            return None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or (self._own_session and self._session.closed):
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    async def close(self) -> None:
        """Close the session if the sampler opened it; a shared one is the caller's."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Sampler:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
