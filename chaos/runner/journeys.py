"""A sample of journeys, hop by hop, for the journal: where a fault's time went.

The workload keeps each client's last journeys as spans (``GET /journeys``); a run
reads them every few seconds, since at a quick pace the last ones kept can all come
after the fault. The journal keeps few per client: the last whole journey before the
fault, and the slowest that started during it — the one the room should look at.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import aiohttp

__all__ = ["EVERY_S", "JourneyLog"]

EVERY_S: Final = 3.0


class JourneyLog:
    def __init__(self, url: str | None, session: aiohttp.ClientSession, zero: float) -> None:
        """``url``: the workload's ``/journeys`` (None on a mesh without one); ``zero``: the
        run's start on the wall clock, so a journey is placed on the run's timeline."""
        self.url = url
        self.session = session
        self.zero = zero
        self.seen: dict[str, dict[float, dict[str, Any]]] = {}

    async def fetch(self) -> None:
        if self.url is None:
            return
        try:
            async with self.session.get(self.url, timeout=aiohttp.ClientTimeout(total=2)) as got:
                doc = await got.json() if got.status == 200 else {}
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return
        for client, traces in doc.items() if isinstance(doc, dict) else ():
            mine = self.seen.setdefault(str(client), {})
            for trace in traces if isinstance(traces, list) else ():
                if isinstance(trace, dict) and isinstance(trace.get("started_at"), int | float):
                    mine[float(trace["started_at"])] = trace

    async def forever(self) -> None:
        while True:
            await self.fetch()
            await asyncio.sleep(EVERY_S)

    def sample(self, fault_start: float, fault_end: float) -> list[dict[str, Any]]:
        """Per client: the last journey done before the fault, the slowest begun during it."""
        picked: list[dict[str, Any]] = []
        for client, traces in self.seen.items():
            placed = [
                {**trace, "t": round(at - self.zero, 3)}
                for at, trace in sorted(traces.items())
                if trace.get("duration_s") is not None
            ]
            before = [p for p in placed if p["t"] + p["duration_s"] <= fault_start]
            during = [p for p in placed if fault_start <= p["t"] <= fault_end]
            if before:
                picked.append({"client": client, "role": "before the fault", **before[-1]})
            if during:
                slowest = max(during, key=lambda p: float(p["duration_s"]))
                picked.append({"client": client, "role": "slowest during the fault", **slowest})
        return picked
