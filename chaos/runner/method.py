"""The method of an experiment, step by step: each fault applied at its offset with a TTL,
reverted at the end of its duration, and recorded in the journal — one code for the
mesh's runner and for a run on one's own services (``probing``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from chaos.experiment.model import Experiment, FaultStep
from chaos.faults import FAULTS
from chaos.faults.base import FaultContext
from chaos.journal import FaultRecord, Journal
from chaos.runner.events import Handler

log = logging.getLogger(__name__)

TTL_MARGIN_S = 5.0
"""A fault's TTL outlives its planned end by this much: the runner reverts it on time,
the TTL only matters when the runner is gone."""


class Stopped(Exception):
    """Control flow: the run ends early on purpose (a stop condition); the message says why."""


class _Run(Protocol):
    async def execute(self) -> None: ...

    async def finish(self) -> None: ...


async def execute_then_finish(
    run: _Run, journal: Journal, write: Callable[[Journal], None]
) -> None:
    """``execute``, then ``finish`` (shielded) whatever happened; the journal says how it
    ended: ``aborted`` when interrupted or stopped, ``error`` on a failure of the run."""
    try:
        await run.execute()
    except asyncio.CancelledError:
        journal.status, journal.error = "aborted", "interrupted"
        await asyncio.shield(run.finish())
        write(journal)
        raise
    except Stopped as exc:
        journal.status, journal.error = "aborted", str(exc)
    except Exception as exc:
        log.exception("experiment %s failed", journal.name)
        journal.status, journal.error = "error", f"{type(exc).__name__}: {exc}"
    await asyncio.shield(run.finish())


@dataclass
class Applied:
    step: FaultStep
    record: FaultRecord
    info: dict[str, Any] = field(default_factory=dict)
    applied: bool = False
    reverting_s: float | None = None
    """When its revert began: an answer after that saw the fault ending, not in force."""


class Method:
    """Applies and reverts the faults of one run; ``faults`` is what was attempted."""

    def __init__(
        self,
        experiment: Experiment,
        journal: Journal,
        ctx: FaultContext,
        handler: Handler,
        *,
        quick: bool,
        now: Callable[[], float],
        until: Callable[[float], Awaitable[None]],
    ) -> None:
        self.experiment = experiment
        self.journal = journal
        self.ctx = ctx
        self.handler = handler
        self.quick = quick
        self.now = now
        self.until = until
        """Sleeps until a time into the run; may raise to end the run early."""
        self.faults: list[Applied] = []

    async def step(self, step: FaultStep, method_start: float) -> None:
        fault = FAULTS[step.kind]
        duration = step.duration(self.quick)
        await self.until(method_start + step.at_s)
        record = FaultRecord(
            kind=step.kind,
            target=step.target,
            start_s=self.now(),
            attributes=dict(step.attributes),
            units=dict(fault.units(step)),
        )
        applied = Applied(step, record)
        self.faults.append(applied)
        self.journal.faults.append(record)
        description = f"{step.kind} on {step.target} for {duration:g} s"
        reason = fault.unsupported(self.ctx, step)
        if reason is not None:
            record.skipped, record.end_s = reason, record.start_s
            self.handler.fault(self.experiment, "skipped", f"{description}: {reason}", step)
            return
        try:
            applied.info = await fault.apply(self.ctx, step, duration + TTL_MARGIN_S)
            applied.applied = True
        except Exception as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            record.end_s = self.now()
            self.handler.fault(self.experiment, "failed", f"{description}: {exc}", step)
            raise
        self.handler.fault(self.experiment, "applied", description, step)
        try:
            await self.until(record.start_s + duration)
        finally:
            await self.revert(applied)
        self.handler.fault(self.experiment, "reverted", description, step)

    async def revert(self, applied: Applied) -> None:
        if not applied.applied or applied.record.reverted:
            return
        if applied.reverting_s is None:
            applied.reverting_s = self.now()
        try:
            await FAULTS[applied.step.kind].revert(self.ctx, applied.step, applied.info)
            applied.record.reverted = True
        except Exception as exc:
            applied.record.error = f"revert failed: {type(exc).__name__}: {exc}"
        finally:
            if applied.record.end_s is None:
                applied.record.end_s = self.now()

    async def revert_all(self) -> None:
        for applied in self.faults:
            await self.revert(applied)

    def span(self, default_start: float, default_end: float) -> tuple[float, float]:
        """From the first fault's start to the last one's end, as they really happened."""
        ran = [f for f in self.faults if f.record.skipped is None]
        starts = [f.record.start_s for f in ran]
        ends = [f.record.end_s for f in ran if f.record.end_s is not None]
        return (min(starts) if starts else default_start, max(ends) if ends else default_end)
