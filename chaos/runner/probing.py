"""An experiment on one's own services: probes instead of the workload's signals.

The timeline is the mesh runner's — steady state over the warm-up, faults with TTLs,
expectations during and after, the steady state again — but what is judged is the
share of probe calls that passed in each window, asked about once a second. A
``stop_when`` probe that passes ends the run at once: every fault is reverted and the
journal says why (``aborted``), as a stop condition in a game day would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import aiohttp

from chaos.experiment.model import Check, Experiment
from chaos.faults.base import FaultContext
from chaos.journal import PROBE_LINE, Journal, Sample
from chaos.journal import Check as CheckResult
from chaos.journal import Signal as SignalInfo
from chaos.mesh.state import MeshState
from chaos.probes import Measurement, Probe
from chaos.runner.engine import BEFORE_FROM_S, SAMPLE_INTERVAL_S
from chaos.runner.events import Handler, NullHandler
from chaos.runner.method import Method

log = logging.getLogger(__name__)

PASSING = SignalInfo(name="probes_passing", title="Probe calls passing", unit="ratio")
"""The one series of such a run: the share of this second's calls that passed, among the
probes the phase is judged on (the steady state, then the "during" expectations, then
the "after" ones and the steady state again)."""


@dataclass
class _Call:
    t: float
    """When it was asked, seconds into the run."""
    done: float
    """When its answer (or the lack of one) was in."""
    check: Check
    measurement: Measurement


class _StopConditionMet(Exception):
    """Internal: a ``stop_when`` probe passed; the message says which, and when."""


class ProbeRunner:
    def __init__(
        self,
        state: MeshState,
        *,
        quick: bool = False,
        out_dir: Path | None = None,
        handler: Handler | None = None,
        target: str = "links",
        actor: str = "fallacies-runner",
    ) -> None:
        self.state = state
        self.quick = quick
        self.out_dir = out_dir
        self.handler = handler or NullHandler()
        self.target = target
        self.actor = actor

    async def run_one(self, experiment: Experiment) -> Journal:
        journal = Journal(
            name=experiment.name,
            title=experiment.title,
            fallacy=experiment.fallacy,
            fallacy_name=experiment.fallacy_name,
            narration=experiment.narration.as_dict(),
            key_signal=PASSING,
            signals=[PASSING],
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            quick=self.quick,
            target=self.target,
            window_s=SAMPLE_INTERVAL_S,
        )
        async with aiohttp.ClientSession() as probes, self.state.session(10) as session:
            run = _ProbeRun(
                self,
                experiment,
                journal,
                probes,
                FaultContext(self.state, session, actor=f"{self.actor}:{experiment.name}"),
            )
            try:
                await run.execute()
            except asyncio.CancelledError:
                journal.status, journal.error = "aborted", "interrupted"
                await asyncio.shield(run.finish())
                self._write(journal)
                raise
            except _StopConditionMet as exc:
                journal.status, journal.error = "aborted", str(exc)
            except Exception as exc:
                log.exception("experiment %s failed", experiment.name)
                journal.status, journal.error = "error", f"{type(exc).__name__}: {exc}"
            await asyncio.shield(run.finish())
        self._write(journal)
        return journal

    def _write(self, journal: Journal) -> None:
        if self.out_dir is not None:
            journal.write(self.out_dir / f"{journal.name}.json")


class _ProbeRun:
    def __init__(
        self,
        runner: ProbeRunner,
        experiment: Experiment,
        journal: Journal,
        probes: aiohttp.ClientSession,
        ctx: FaultContext,
    ) -> None:
        self.runner = runner
        self.experiment = experiment
        self.journal = journal
        self.probes = probes
        self.ctx = ctx
        self.calls: list[_Call] = []
        self.started = time.monotonic()
        self.phase = "warm-up"
        quick = runner.quick
        self.method_start = experiment.warmup_s
        self.method_end = self.method_start + experiment.method_span(quick)
        self.total = self.method_end + experiment.observe_after_s
        self.stopped: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._probing: asyncio.Task[None] | None = None
        self._finished = False
        self.method = Method(
            experiment, journal, ctx, runner.handler, quick=quick, now=self.now, until=self._until
        )

    def now(self) -> float:
        return time.monotonic() - self.started

    async def execute(self) -> None:
        exp, handler = self.experiment, self.runner.handler
        self._probing = asyncio.create_task(self._probe_loop())
        handler.phase(exp, "warm-up", self.total)
        await self._until(self.method_start)
        self.journal.steady_state += [
            self._judge(check, "before", BEFORE_FROM_S, self.method_start)
            for check in exp.steady_state
        ]
        if not all(c.passed for c in self.journal.steady_state):
            self.journal.status = "failed"
            self.journal.error = "steady state did not hold before the fault; nothing injected"
            return
        self.phase = "fault"
        handler.phase(exp, "fault", self.total - self.now())
        try:
            async with asyncio.TaskGroup() as group:
                for step in exp.method:
                    group.create_task(self.method.step(step, self.method_start))
        except ExceptionGroup as group:
            stop = [e for e in group.exceptions if isinstance(e, _StopConditionMet)]
            raise (stop or group.exceptions)[0] from None
        _, last_end = self.method.span(0.0, 0.0)
        self.total = max(self.total, last_end + exp.observe_after_s)
        self.phase = "observe"
        handler.phase(exp, "observe", self.total - self.now())
        await self._until(self.total)
        self._verdict()

    async def _until(self, t: float) -> None:
        """Sleep until ``t`` into the run, or raise once a stop condition was met."""
        delay = t - self.now()
        if delay > 0:
            try:
                await asyncio.wait_for(asyncio.shield(self.stopped), delay)
            except TimeoutError:
                return
        if self.stopped.done():
            raise _StopConditionMet(self.stopped.result())

    async def _probe_loop(self) -> None:
        exp = self.experiment
        checks = [*exp.steady_state, *exp.expectations, *exp.stop_when]
        next_at = 0.0
        while True:
            t = self.now()
            measured = await asyncio.gather(
                *(cast(Probe, check.probe).measure(self.probes) for check in checks)
            )
            done = self.now()
            calls = [_Call(t, done, check, m) for check, m in zip(checks, measured, strict=True)]
            self.calls += calls
            judged = [c for c in calls if c.check in self._judged_now()]
            share = sum(c.measurement.ok for c in judged) / len(judged) if judged else None
            self.journal.samples.append(
                Sample(t=round(t, 3), values={PASSING.name: {PROBE_LINE: share}})
            )
            self.runner.handler.sample(
                exp, t, self.phase, max(0.0, self.total - t), {PROBE_LINE: share}, {}
            )
            met = [c for c in calls if c.check in exp.stop_when and c.measurement.ok]
            if met and self.phase != "warm-up" and not self.stopped.done():
                what = met[0].check.description or cast(Probe, met[0].check.probe).describe()
                self.stopped.set_result(
                    f"stopped at {t:.1f} s: the stop condition {what!r} was met"
                )
            next_at += SAMPLE_INTERVAL_S
            delay = next_at - self.now()
            if delay > 0:
                await asyncio.sleep(delay)

    def _judged_now(self) -> tuple[Check, ...]:
        """The checks the current phase is judged on: what the live share is about."""
        exp = self.experiment
        if self.phase == "warm-up":
            return exp.steady_state
        during = tuple(c for c in exp.expectations if c.phase == "during")
        if self.phase == "fault":
            return during
        return exp.steady_state + tuple(c for c in exp.expectations if c.phase == "after")

    def _judge(self, check: Check, phase: str, start: float, end: float) -> CheckResult:
        probe = cast(Probe, check.probe)
        calls = [c for c in self.calls if c.check is check and start <= c.t and c.done <= end]
        passed = [c for c in calls if c.measurement.ok]
        share = len(passed) / len(calls) if calls else None
        failed = [c for c in calls if not c.measurement.ok]
        detail = f"{len(passed)} of {len(calls)} calls passed"
        if failed:
            detail += f"; e.g. at {failed[-1].t:.1f} s: {failed[-1].measurement.detail}"
        return CheckResult(
            description=check.description or probe.describe(),
            phase=phase,  # type: ignore[arg-type]
            client=None,
            metric=probe.describe(),
            op=">=",
            threshold=check.ratio,
            observed=share,
            passed=share is not None and share >= check.ratio,
            detail=detail,
            unit="ratio",
        )

    def _verdict(self) -> None:
        exp = self.experiment
        fault_start, fault_end = self.method.span(self.method_start, self.method_end)
        reverting = [f.reverting_s for f in self.method.faults if f.reverting_s is not None]
        during_end = max(reverting) if reverting else fault_end
        now = self.now()
        for check in exp.expectations:
            if check.phase == "during":
                window = (fault_start + exp.settle_s, during_end)
            else:
                window = (fault_end + exp.recover_s, now)
            self.journal.expectations.append(self._judge(check, check.phase, *window))
        self.journal.steady_state += [
            self._judge(check, "after", fault_end + exp.recover_s, now)
            for check in exp.steady_state
        ]
        self._key(fault_start, fault_end)
        results = self.journal.steady_state + self.journal.expectations
        failed_faults = [f for f in self.journal.faults if f.error]
        ok = bool(results) and all(r.passed for r in results) and not failed_faults
        self.journal.status = "passed" if ok else "failed"

    def _key(self, start: float, end: float) -> None:
        """The share of calls passing over the faults: the summary's one number."""
        during = [
            s.values[PASSING.name][PROBE_LINE] for s in self.journal.samples if start <= s.t <= end
        ]
        seen = [v for v in during if v is not None]
        self.journal.key = {PROBE_LINE: sum(seen) / len(seen) if seen else None}

    async def finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        self.phase = "rollback"
        try:
            await self.method.revert_all()
        finally:
            if self._probing is not None:
                self._probing.cancel()
                try:
                    await self._probing
                except asyncio.CancelledError:
                    pass
            self.journal.duration_s = round(self.now(), 3)
            if not self.journal.key and self.method.faults:
                self._key(*self.method.span(0.0, self.now()))
