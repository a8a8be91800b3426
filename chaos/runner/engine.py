"""The experiment engine: one experiment at a time, every fault with a TTL."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.experiment.model import Experiment
from chaos.faults import ROLLBACKS
from chaos.faults.base import FaultContext
from chaos.journal import Check, Journal, Rollback, Sample
from chaos.journal import Signal as SignalInfo
from chaos.mesh.state import MeshState
from chaos.runner.checks import CLIENTS, RUNNING, evaluate, holds, window
from chaos.runner.events import Handler, NullHandler
from chaos.runner.journeys import JourneyLog
from chaos.runner.method import Method, execute_then_finish
from chaos.signals import SIGNALS
from chaos.signals.base import Signal, Snapshot
from chaos.signals.library import JOURNEYS, clients_in
from chaos.signals.sampler import Sampler
from chaos.signals.window import total

SAMPLE_INTERVAL_S = 1.0
CHART_WINDOW_S = 3.0

ROLLBACK_TIMEOUT_S = 20.0
BEFORE_FROM_S = 0.5
"""The steady state before a fault is judged from this long into the run (the first
scrape may predate the workload's first requests) to the first fault."""
WARM_TIMEOUT_S = 30.0
"""At most this long waiting for each client's first journey before the warm-up starts."""


@dataclass
class RunResult:
    journals: list[Journal] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    """Experiments chosen but not run: skipped, or left when the run was stopped early."""

    @property
    def passed(self) -> bool:
        return bool(self.journals) and all(j.status == "passed" for j in self.journals)


class Runner:
    def __init__(
        self,
        state: MeshState,
        *,
        quick: bool = False,
        out_dir: Path | None = None,
        handler: Handler | None = None,
        signals: Mapping[str, Signal] | None = None,
        target: str = "embedded",
        actor: str = "fallacies-runner",
        clients: tuple[str, ...] | None = None,
    ) -> None:
        """``clients``: whom to watch; None, those the workload's metrics name (the two, and
        one of one's own when the mesh runs it)."""
        self.state = state
        self.quick = quick
        self.out_dir = out_dir
        self.handler = handler or NullHandler()
        self.signals = signals if signals is not None else SIGNALS
        self.target = target
        self.actor = actor
        self.clients = clients

    async def run(self, experiments: Sequence[Experiment]) -> RunResult:
        result = RunResult()
        for index, experiment in enumerate(experiments, 1):
            self.handler.experiment_started(experiment, index, len(experiments))
            journal = await self.run_one(experiment)
            result.journals.append(journal)
            self.handler.experiment_finished(journal)
        return result

    async def run_one(self, experiment: Experiment) -> Journal:
        journal = Journal(
            name=experiment.name,
            title=experiment.title,
            fallacy=experiment.fallacy,
            fallacy_name=experiment.fallacy_name,
            narration=experiment.narration.as_dict(),
            key_signal=self._info(experiment.key_signal),
            signals=[self._info(name) for name in experiment.signals],
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            quick=self.quick,
            target=self.target,
            window_s=CHART_WINDOW_S,
        )
        async with self.state.session(10) as session:
            sampler = Sampler(self.state.metrics_targets(), session=session)
            ctx = FaultContext(self.state, session, actor=f"{self.actor}:{experiment.name}")
            first = await sampler.scrape(0.0)
            journal.clients = list(self.clients or clients_in(first))
            await until_warm(sampler, journal.clients)
            run = _Run(self, experiment, journal, sampler, ctx)
            await execute_then_finish(run, journal, self._write)
        self._write(journal)
        return journal

    def _info(self, name: str) -> SignalInfo:
        signal = self.signals[name]
        return SignalInfo(name=name, title=signal.title, unit=signal.unit)

    def _write(self, journal: Journal) -> None:
        if self.out_dir is not None:
            journal.write(self.out_dir / f"{journal.fallacy:02d}-{journal.name}.json")


async def until_warm(
    sampler: Sampler, clients: Sequence[str] = CLIENTS, timeout_s: float = WARM_TIMEOUT_S
) -> bool:
    """Wait until every client has finished a journey; False if none did in time.

    A mesh started for the run (an ablation cell, a defence switched off) is healthy
    before it is warm: the first journey resolves, syncs the clock and fetches the
    catalog from cold, and on a loaded machine that outlasts the warm-up, so the
    steady state would be judged on a client that has not begun. One that never
    finishes a journey is still judged, after the deadline: the steady state fails.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        snapshot = await sampler.scrape(0.0)
        done = [total(snapshot, JOURNEYS.where(client=c)) or 0.0 for c in clients]
        if all(count >= 1 for count in done):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.2)


class _Run:
    """The state of one experiment's execution, so ``finish`` can always clean up."""

    def __init__(
        self,
        runner: Runner,
        experiment: Experiment,
        journal: Journal,
        sampler: Sampler,
        ctx: FaultContext,
    ) -> None:
        self.runner = runner
        self.experiment = experiment
        self.journal = journal
        self.sampler = sampler
        self.ctx = ctx
        self.snapshots: list[Snapshot] = []
        self.started = time.monotonic()
        self.phase = "warm-up"
        self.quick = runner.quick
        self.method = Method(
            experiment,
            journal,
            ctx,
            runner.handler,
            quick=self.quick,
            now=self.now,
            until=self._sleep_until,
        )
        warmup = experiment.warmup_s
        self.method_start = warmup
        self.method_end = warmup + experiment.method_span(self.quick)
        self.total = self.method_end + experiment.observe_after_s
        self._sampling: asyncio.Task[None] | None = None
        self._finished = False
        workload = runner.state.nodes.get("workload")
        url = workload.admin_url if workload is not None else None
        self.journeys = JourneyLog(
            f"{url}/journeys" if url else None, ctx.session, time.time() - self.now()
        )
        self._tracing: asyncio.Task[None] | None = None

    def now(self) -> float:
        return time.monotonic() - self.started

    async def execute(self) -> None:
        handler, exp = self.runner.handler, self.experiment
        self._sampling = asyncio.create_task(self._sample_loop())
        self._tracing = asyncio.create_task(self.journeys.forever())
        handler.phase(exp, "warm-up", self.total)
        await self._sleep_until(self.method_start)
        before = window(self.snapshots, BEFORE_FROM_S, self.method_start)
        for check in exp.steady_state:
            self.journal.steady_state += evaluate(
                check, before, self.runner.signals, phase="before"
            )
        if not all(c.passed for c in self.journal.steady_state):
            self.journal.status = "failed"
            self.journal.error = "steady state did not hold before the fault; nothing injected"
            return
        self.phase = "fault"
        handler.phase(exp, "fault", self.total - self.now())
        async with asyncio.TaskGroup() as group:
            for step in exp.method:
                group.create_task(self.method.step(step, self.method_start))
        # A revert can take a while (a node started again waits until it is healthy):
        # the "after" phase is observed for its full length from the last real end.
        _, last_end = self.method.span(0.0, 0.0)
        self.total = max(self.total, last_end + exp.observe_after_s)
        self.phase = "observe"
        handler.phase(exp, "observe", self.total - self.now())
        await self._sleep_until(self.total)
        await self.journeys.fetch()
        self._judge()

    def _judge(self) -> None:
        exp, signals = self.experiment, self.runner.signals
        fault_start, fault_end = self.method.span(self.method_start, self.method_end)
        self.journal.journeys = self.journeys.sample(fault_start, fault_end)
        during = window(self.snapshots, fault_start + exp.settle_s, fault_end)
        after = window(self.snapshots, fault_end + exp.recover_s, self.now())
        key, running = signals[exp.key_signal], self.runner.signals.get(RUNNING)
        for client in self.journal.clients:
            self.journal.key[client] = key.value(during, client) if len(during) >= 2 else None
            age = running.value(during, client) if running is not None else None
            self.journal.key_running_s[client] = age or 0.0
        for check in exp.expectations:
            snaps = during if check.phase == "during" else after

            def first_seen(client: str, check: Any = check) -> str:
                return self._first_seen(check, client, fault_start)

            yours = self.journal.clients[len(CLIENTS) :]
            judged: list[tuple[list[Check], list[str] | None]] = [(self.journal.expectations, None)]
            if check.client in ("resilient", "both") and yours:
                judged.append((self.journal.advisory, yours))
            for results, clients in judged:
                results += evaluate(
                    check,
                    snaps,
                    signals,
                    phase=check.phase,
                    detail=first_seen if check.phase == "during" else None,
                    clients=clients,
                )
        for check in exp.steady_state:
            self.journal.steady_state += evaluate(check, after, signals, phase="after")
        results = self.journal.steady_state + self.journal.expectations
        failed_faults = [f for f in self.journal.faults if f.error]
        self.journal.status = (
            "passed"
            if results and all(r.passed for r in results) and not failed_faults
            else "failed"
        )

    def _first_seen(self, check: Any, client: str, fault_start: float) -> str:
        """When the sliding-window signal first met the expectation after the fault began."""
        signal = self.runner.signals[check.signal]
        for snap in self.snapshots:
            if snap.t < fault_start:
                continue
            recent = window(self.snapshots, snap.t - CHART_WINDOW_S, snap.t)
            if holds(check.op, signal.value(recent, client), check.threshold):
                return f"first met {snap.t - fault_start:.1f} s after the fault began"
        return "never met on the sliding window"

    async def _sample_loop(self) -> None:
        next_at = 0.0
        while True:
            snapshot = await self.sampler.scrape(self.now())
            self.snapshots.append(snapshot)
            self._record(snapshot)
            next_at += SAMPLE_INTERVAL_S
            delay = next_at - self.now()
            if delay > 0:
                await asyncio.sleep(delay)

    def _record(self, snapshot: Snapshot) -> None:
        recent = window(self.snapshots, snapshot.t - CHART_WINDOW_S, snapshot.t)
        values: dict[str, dict[str, float | None]] = {}
        for name in self.experiment.signals:
            signal = self.runner.signals[name]
            values[name] = {c: signal.value(recent, c) for c in self.journal.clients}
        running = self.runner.signals.get(RUNNING)
        ages = {c: running.value(recent, c) if running else None for c in self.journal.clients}
        self.journal.samples.append(Sample(t=round(snapshot.t, 3), values=values, running_s=ages))
        self.runner.handler.sample(
            self.experiment,
            snapshot.t,
            self.phase,
            max(0.0, self.total - snapshot.t),
            values.get(self.experiment.key_signal, {}),
            ages,
        )

    async def _sleep_until(self, t: float) -> None:
        delay = t - self.now()
        if delay > 0:
            await asyncio.sleep(delay)

    async def finish(self) -> None:
        """Revert what is still applied, run the rollbacks, stop sampling. Runs once."""
        if self._finished:
            return
        self._finished = True
        self.phase = "rollback"
        try:
            async with asyncio.timeout(ROLLBACK_TIMEOUT_S):
                await self.method.revert_all()
                for rollback in self.experiment.rollbacks:
                    action = ROLLBACKS[rollback.action]
                    try:
                        detail = await action(self.ctx, dict(rollback.args))
                        self.journal.rollbacks.append(Rollback(rollback.action, "ok", detail))
                    except Exception as exc:
                        self.journal.rollbacks.append(
                            Rollback(rollback.action, "failed", f"{type(exc).__name__}: {exc}")
                        )
        except TimeoutError:
            self.journal.rollbacks.append(Rollback("all", "failed", "rollbacks timed out"))
        finally:
            for task in (self._tracing, self._sampling):
                if task is not None:
                    task.cancel()
                    try:
                        await task
                    except asyncio.CancelledError:
                        pass
            self.journal.duration_s = round(self.now(), 3)
