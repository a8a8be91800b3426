"""One sampler for every open page: the mesh read twice a second, pushed to each.

    Hub ── every period: nodes (control API), links and faults (each proxy API),
     │     audit entries since the last seen; every second: each workload's /metrics
     ├── a snapshot, serialised once ──▶ one bounded queue per open page (WebSocket)
     └── history: the last minutes of client numbers and fault windows, for a page
         opened late

Ten tabs cost ten queue puts, not ten scrapes. A slow page loses old snapshots
(its queue keeps the newest few), never slows the others. ``kick()`` samples at
once: a fault added from the page shows on the next snapshot, not a period later.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

import aiohttp

from chaos.console.numbers import numbers
from chaos.console.topology import ends
from chaos.mesh.control import fetch_status
from chaos.mesh.links import Links, LinkView, revert_label
from chaos.mesh.model import workloads
from chaos.mesh.state import MeshState
from chaos.signals.base import Snapshot
from chaos.signals.library import clients_in
from chaos.signals.sampler import Sampler
from chaos.signals.window import SeriesMap
from chaos.toxiproxy import AuditEntry, Toxic, Toxiproxy, ToxiproxyError
from chaos.waterfall import rows as waterfall_rows

__all__ = ["ACTOR", "Hub"]

log = logging.getLogger(__name__)

ACTOR: Final = "fallacies-console"
WINDOW_S: Final = 10.0
"""The client numbers cover the last this many seconds (a short, readable window)."""
AUDIT_KEPT: Final = 50
QUEUE_DEPTH: Final = 4


@dataclass
class _Window:
    link: str
    fault: str
    type: str
    start: float
    end: float | None = None


class Hub:
    """Samples ``state`` every ``period_s`` and scrapes the workload every ``scrape_s``."""

    def __init__(
        self,
        state: MeshState,
        *,
        backend: str,
        period_s: float = 0.5,
        scrape_s: float = 1.0,
        history_s: float = 300.0,
        extras: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.home = state
        self.backend = backend
        self.period_s = period_s
        self.scrape_s = scrape_s
        self.history_s = history_s
        self.extras = extras or dict
        self.ticks = 0
        """Rounds sampled so far (tests and the benchmark read it)."""
        self.scrapes = 0
        self._state = state
        self._why: str | None = None
        self._subscribers: set[asyncio.Queue[str | None]] = set()
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._sampler: Sampler | None = None
        self._scraped: deque[Snapshot] = deque()
        self._samples: deque[dict[str, Any]] = deque()
        self._windows: dict[tuple[str, str], _Window] = {}
        self._closed_windows: deque[_Window] = deque()
        self._runs: dict[tuple[str, str], _Window] = {}
        self._audit: deque[dict[str, Any]] = deque(maxlen=AUDIT_KEPT)
        self._audit_since: dict[str, int] = {}
        self._last_scrape = 0.0
        self._journeys: dict[str, Any] = {}
        """Each client's last finished journey, hop by hop (the console's waterfall)."""
        self.latest: dict[str, Any] | None = None

    # -- what is watched --------------------------------------------------------------

    @property
    def state(self) -> MeshState:
        return self._state

    def view(self, state: MeshState, why: str) -> None:
        """Watch another mesh (a run's own, with a defence off) until ``restore()``."""
        self._switch(state, why)

    def restore(self) -> None:
        self._switch(self.home, None)

    def _switch(self, state: MeshState, why: str | None) -> None:
        self._state, self._why = state, why
        self._scraped.clear()
        self._audit_since.clear()
        self._sampler = None
        self.kick()

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(headers=self.home.admin_headers)
        self._task = asyncio.create_task(self._loop(), name="console-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for queue in self._subscribers:
            self._put(queue, None)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def subscribe(self) -> asyncio.Queue[str | None]:
        """A page's queue of serialised snapshots; ``None`` in it means the hub stopped."""
        queue: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_DEPTH)
        self._subscribers.add(queue)
        if self.latest is not None:
            self._put(queue, json.dumps(self.latest))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str | None]) -> None:
        self._subscribers.discard(queue)

    @property
    def pages(self) -> int:
        return len(self._subscribers)

    def kick(self) -> None:
        self._kick.set()

    def history(self) -> dict[str, Any]:
        return {"samples": list(self._samples), "windows": self._window_list()}

    # -- the loop -----------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            self._kick.clear()
            try:
                await self._tick()
            except Exception:  # one bad round must not end the console
                log.exception("console sampling round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.period_s)

    async def _tick(self) -> None:
        assert self._session is not None
        started = time.perf_counter()
        now = time.time()
        state = self._state
        scrape = now - self._last_scrape >= self.scrape_s * 0.95
        problems: list[str] = []
        nodes, views, audit, scraped, journeys = await asyncio.gather(
            fetch_status(state, self._session),
            self._views(state, problems),
            self._read_audit(state),
            self._scrape(state, now) if scrape else _nothing(),
            self._last_journeys(state) if scrape else _nothing(),
        )
        if journeys is not None:
            self._journeys = journeys
        if nodes is None:
            problems.append("the control API does not answer")
        known = views is not None
        if views is None:
            views = [LinkView(name, info, None, ()) for name, info in state.links.items()]
        expiries = await self._janitor_due(state, views)
        links = [self._link(state, view, now, expiries) for view in views]
        if known:  # unknown is not "no faults": the windows stay open
            self._track_windows(links, now)
        if scraped is not None:
            self._last_scrape = now
            self._add_scrape(scraped)
        elif scrape:
            problems.append("the workload's metrics do not answer")
        self.ticks += 1
        sample = self._samples[-1] if self._samples else None
        snapshot: dict[str, Any] = {
            "t": now,
            "sampled_in_ms": round((time.perf_counter() - started) * 1000, 1),
            "backend": self.backend,
            "view": {"kind": "run", "why": self._why} if self._why else {"kind": "mesh"},
            "problems": problems,
            "sample": sample,
            "windows": self._window_list(),
            "journeys": self._journeys,
            "nodes": self._nodes(state, nodes),
            "links": links,
            "audit": sorted(self._audit, key=lambda row: row["time"], reverse=True),
            "pages": self.pages,
            **self.extras(),
        }
        self.latest = snapshot
        payload = json.dumps(snapshot)
        for queue in list(self._subscribers):
            self._put(queue, payload)

    @staticmethod
    def _put(queue: asyncio.Queue[str | None], item: str | None) -> None:
        while queue.full():
            queue.get_nowait()
        queue.put_nowait(item)

    # -- parts of a round ---------------------------------------------------------------

    async def _views(self, state: MeshState, problems: list[str]) -> list[LinkView] | None:
        try:
            return await Links(state, actor=ACTOR, session=self._session).views()
        except (aiohttp.ClientError, TimeoutError, ToxiproxyError) as exc:
            problems.append(f"a fault proxy does not answer: {exc or type(exc).__name__}")
            return None

    async def _read_audit(self, state: MeshState) -> None:
        for api in state.proxy_apis():
            if any(link.api == api and link.via_toxiproxy for link in state.links.values()):
                continue  # real Toxiproxy keeps no audit log
            client = Toxiproxy(api, session=self._session, timeout=0.8, actor=ACTOR)
            try:
                entries = await client.audit(since=self._audit_since.get(api, 0))
            except (aiohttp.ClientError, TimeoutError, ToxiproxyError, ValueError):
                continue
            for entry in entries:
                self._audit_since[api] = max(self._audit_since.get(api, 0), entry.seq)
                self._audit.append(_audit_row(entry))

    async def _last_journeys(self, state: MeshState) -> dict[str, Any] | None:
        """Each client's last finished journey, as waterfall rows (``chaos.waterfall``)."""
        workload = state.nodes.get("workload")
        if workload is None or workload.admin_url is None:
            return None
        assert self._session is not None
        try:
            async with self._session.get(
                f"{workload.admin_url}/journeys", timeout=aiohttp.ClientTimeout(total=0.8)
            ) as response:
                found = await response.json() if response.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        if not isinstance(found, dict):
            return None
        last: dict[str, Any] = {}
        for client, traces in found.items():
            if isinstance(traces, list) and traces and isinstance(traces[-1], dict):
                trace = traces[-1]
                last[str(client)] = {
                    "started_at": trace.get("started_at"),
                    "duration_s": trace.get("duration_s"),
                    "outcome": trace.get("outcome"),
                    "rows": [row.to_dict() for row in waterfall_rows(trace)],
                }
        return last

    async def _scrape(self, state: MeshState, now: float) -> Snapshot | None:
        """Every workload's clients, summed (a larger Swarm stack runs several pairs);
        nothing unless each answered, so a silent one is not a smaller number."""
        targets = {
            name: url for name in workloads(state.nodes) if (url := state.nodes[name].metrics_url)
        }
        if not targets:
            return None
        if self._sampler is None or self._sampler.targets != targets:
            self._sampler = Sampler(targets, session=self._session)
        snap = await self._sampler.scrape(now)
        self.scrapes += 1
        answered = isinstance(snap.values, SeriesMap) and set(targets) <= set(snap.values.nodes)
        return snap if answered else None

    def _add_scrape(self, snap: Snapshot) -> None:
        self._scraped.append(snap)
        while len(self._scraped) > 2 and self._scraped[1].t <= snap.t - WINDOW_S:
            self._scraped.popleft()
        if len(self._scraped) < 2:
            return
        window = list(self._scraped)
        self._samples.append(
            {"t": snap.t, "clients": {c: numbers(window, c) for c in clients_in(snap)}}
        )
        while self._samples and self._samples[0]["t"] < snap.t - self.history_s:
            self._samples.popleft()

    async def _janitor_due(self, state: MeshState, views: Sequence[LinkView]) -> dict[str, float]:
        """Due times of Toxiproxy links' reverts, by janitor description (Toxiproxy
        reports no TTL)."""
        if not any(v.info.via_toxiproxy and v.toxics for v in views):
            return {}
        assert self._session is not None
        try:
            async with self._session.get(
                f"{state.control_url}/janitor", timeout=aiohttp.ClientTimeout(total=0.8)
            ) as response:
                jobs = await response.json() if response.status == 200 else []
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return {}
        return {
            str(job.get("description", "")): float(job.get("due_in_s", 0.0))
            for job in jobs
            if isinstance(job, dict)
        }

    def _link(
        self, state: MeshState, view: LinkView, now: float, expiries: dict[str, float]
    ) -> dict[str, Any]:
        source, target = ends(state, view.name, view.info)
        faults = _link_changes(view, now)
        for toxic in view.toxics:
            fault = _toxic_fault(toxic, now)
            if fault["expires_in_s"] is None:
                label = revert_label(view.name, toxic.name)
                due = (s for d, s in expiries.items() if d.startswith(label + " "))
                fault["expires_in_s"] = next(due, None)
            faults.append(fault)
        return {
            "name": view.name,
            "protocol": view.info.protocol,
            "from": source,
            "to": target,
            "listen": view.info.listen,
            "upstream": view.info.upstream,
            "proxy": view.info.proxy,
            "enabled": view.enabled,
            "faults": faults,
        }

    @staticmethod
    def _nodes(state: MeshState, nodes: Sequence[Any] | None) -> list[dict[str, Any]]:
        if nodes is None:
            return [
                {"name": name, "kind": info.kind, "state": "unknown", "healthy": False, "pid": None}
                for name, info in state.nodes.items()
            ]
        return [
            {"name": n.name, "kind": n.kind, "state": n.state, "healthy": n.healthy, "pid": n.pid}
            for n in nodes
        ]

    def run_fault(self, action: str, kind: str, target: str, label: str) -> None:
        """A run's fault applied or reverted: shaded on the charts whatever it is (a
        clock, a DNS record, a node), where link faults alone would miss most."""
        key = (target, f"run:{label}")
        now = time.time()
        if action == "applied" and key not in self._runs:
            self._runs[key] = _Window(target, label, kind, now)
        elif action != "applied" and key in self._runs:
            self._end(self._runs.pop(key), now)
        self.kick()

    def run_over(self) -> None:
        now = time.time()
        for window in self._runs.values():
            self._end(window, now)
        self._runs.clear()

    def _end(self, window: _Window, now: float) -> None:
        window.end = now
        self._closed_windows.append(window)

    def _track_windows(self, links: Sequence[dict[str, Any]], now: float) -> None:
        """Open a window for each fault now on a link, close those gone (``links``: this
        round's snapshot entries)."""
        present = {
            (str(link["name"]), str(fault["name"])): str(fault["type"])
            for link in links
            for fault in link["faults"]
        }
        for key, window in list(self._windows.items()):
            if key not in present:
                self._end(window, now)
                del self._windows[key]
        for key, kind in present.items():
            if key not in self._windows:
                self._windows[key] = _Window(key[0], key[1], kind, now)
        while self._closed_windows and (self._closed_windows[0].end or now) < now - self.history_s:
            self._closed_windows.popleft()

    def _window_list(self) -> list[dict[str, Any]]:
        return [
            asdict(w)
            for w in (*self._closed_windows, *self._windows.values(), *self._runs.values())
        ]


def _left(expires_at: dt.datetime | None, now: float) -> float | None:
    return None if expires_at is None else max(0.0, expires_at.timestamp() - now)


def _toxic_fault(toxic: Toxic, now: float) -> dict[str, Any]:
    return {
        "name": toxic.name,
        "type": toxic.type,
        "stream": toxic.stream,
        "toxicity": toxic.toxicity,
        "attributes": dict(toxic.attributes),
        "expires_in_s": _left(toxic.expires_at, now),
    }


def _link_changes(view: LinkView, now: float) -> list[dict[str, Any]]:
    """A link switched off or pointed elsewhere is a fault too (partitions, the rogue
    replica), though no toxic says so."""
    live = view.live
    if live is None:
        return []
    changes: list[dict[str, Any]] = []
    common = {"stream": "both", "toxicity": 1.0, "expires_in_s": _left(live.expires_at, now)}
    if not live.enabled:
        changes.append({"name": "link-down", "type": "down", "attributes": {}, **common})
    if live.upstream != view.info.upstream:
        attributes = {"upstream": live.upstream}
        changes.append(
            {"name": "re-pointed", "type": "redirect", "attributes": attributes, **common}
        )
    return changes


async def _nothing() -> None:
    return None


def _audit_row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "time": entry.time.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "proxy": entry.proxy,
        "toxic": entry.toxic,
    }
