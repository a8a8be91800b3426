"""Reverts faults at their deadline from inside the long-lived supervisor.

Toxics on the project's proxy carry their own TTL, but real Toxiproxy has none, and
node stops, DNS changes or lying clocks live in other processes. Whoever injects
such a fault also files its revert here; if the injector dies, the supervisor still
runs the revert when it falls due.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Action = Callable[[], Awaitable[None]]


@dataclass
class Job:
    id: str
    description: str
    due_at: float
    """Unix time."""
    action: Action
    handle: asyncio.TimerHandle | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "description": self.description,
            "due_at": self.due_at,
            "due_in_s": max(0.0, self.due_at - time.time()),
        }


class Janitor:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._running: set[asyncio.Task[None]] = set()

    def schedule(self, delay_s: float, description: str, action: Action) -> Job:
        job = Job(f"j{next(self._ids)}", description, time.time() + delay_s, action)
        loop = asyncio.get_running_loop()
        job.handle = loop.call_later(max(0.0, delay_s), self._fire, job.id)
        self._jobs[job.id] = job
        return job

    def cancel(self, job_id: str) -> bool:
        job = self._jobs.pop(job_id, None)
        if job is None:
            return False
        if job.handle is not None:
            job.handle.cancel()
        return True

    def jobs(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda j: j.due_at)

    def _fire(self, job_id: str) -> None:
        job = self._jobs.pop(job_id, None)
        if job is None:
            return
        task = asyncio.get_running_loop().create_task(self._run(job))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, job: Job) -> None:
        try:
            await job.action()
            log.info("janitor reverted: %s", job.description)
        except Exception as exc:  # a revert must never take the supervisor down
            log.warning("janitor could not revert %s: %s", job.description, exc)

    async def close(self) -> None:
        for job_id in list(self._jobs):
            self.cancel(job_id)
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
