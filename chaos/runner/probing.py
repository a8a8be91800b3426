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
from chaos.journal import PROBE_LINE, Journal, Phase, Sample
from chaos.journal import Check as CheckResult
from chaos.journal import Signal as SignalInfo
from chaos.mesh.state import MeshState
from chaos.probes import Measurement, Probe
from chaos.runner.engine import BEFORE_FROM_S, SAMPLE_INTERVAL_S
from chaos.runner.events import Handler, NullHandler
from chaos.runner.method import Method, Stopped, execute_then_finish

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
            await execute_then_finish(run, journal, self._write)
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
        self.asking: dict[Check, float] = {}
        """Checks whose call is out, and since when."""
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
            stop = [e for e in group.exceptions if isinstance(e, Stopped)]
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
            raise Stopped(self.stopped.result())

    async def _probe_loop(self) -> None:
        """One asker per check, so a slow probe delays none but itself, and a sample a second."""
        exp = self.experiment
        checks = [*exp.steady_state, *exp.expectations, *exp.stop_when]
        async with asyncio.TaskGroup() as group:
            for check in checks:
                group.create_task(self._ask(check))
            next_at = 0.0
            while True:
                next_at = max(next_at + SAMPLE_INTERVAL_S, self.now())
                await asyncio.sleep(next_at - self.now())
                self._sample(self.now())

    async def _ask(self, check: Check) -> None:
        probe = cast(Probe, check.probe)
        next_at = 0.0
        while True:
            asked = self.now()
            self.asking[check] = asked
            try:
                measurement = await probe.measure(self.probes)
            except Exception as exc:  # a probe's own bug must not end the run
                log.exception("probe %s failed", probe.describe())
                measurement = Measurement(False, None, f"the probe failed: {exc!r}")
            del self.asking[check]
            self.calls.append(_Call(asked, self.now(), check, measurement))
            if check in self.experiment.stop_when and measurement.ok:
                self._stop(check, asked)
            next_at = max(next_at + SAMPLE_INTERVAL_S, self.now())
            await asyncio.sleep(next_at - self.now())

    def _stop(self, check: Check, t: float) -> None:
        if self.stopped.done():
            return
        what = check.description or cast(Probe, check.probe).describe()
        when = "before any fault" if self.phase == "warm-up" else f"at {t:.1f} s"
        self.stopped.set_result(f"stopped {when}: the stop condition {what!r} was met")

    def _sample(self, t: float) -> None:
        """The share of the checks judged now whose latest call passed; one still waiting
        for an answer longer than the interval counts as failing, so a hung service is
        a falling line, not a gap."""
        verdicts: list[bool] = []
        for check in self._judged_now():
            if t - self.asking.get(check, t) > SAMPLE_INTERVAL_S:
                verdicts.append(False)
                continue
            latest = next((c for c in reversed(self.calls) if c.check is check), None)
            if latest is not None:
                verdicts.append(latest.measurement.ok)
        share = sum(verdicts) / len(verdicts) if verdicts else None
        values = {PASSING.name: {PROBE_LINE: share}}
        self.journal.samples.append(Sample(t=round(t, 3), values=values))
        self.runner.handler.sample(
            self.experiment, t, self.phase, max(0.0, self.total - t), {PROBE_LINE: share}, {}
        )

    def _judged_now(self) -> tuple[Check, ...]:
        """The checks the current phase is judged on: what the live share is about."""
        exp = self.experiment
        if self.phase == "warm-up":
            return exp.steady_state
        during = tuple(c for c in exp.expectations if c.phase == "during")
        if self.phase == "fault":
            return during
        return exp.steady_state + tuple(c for c in exp.expectations if c.phase == "after")

    def _judge(self, check: Check, phase: Phase, start: float, end: float) -> CheckResult:
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
            phase=phase,
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
        during = (fault_start + exp.settle_s, during_end)
        for check in exp.expectations:
            window = during if check.phase == "during" else (fault_end + exp.recover_s, now)
            phase: Phase = "during" if check.phase == "during" else "after"
            self.journal.expectations.append(self._judge(check, phase, *window))
        self.journal.steady_state += [
            self._judge(check, "after", fault_end + exp.recover_s, now)
            for check in exp.steady_state
        ]
        self._key(*during)
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
