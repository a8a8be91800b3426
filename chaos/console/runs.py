"""Experiments run from the page: one at a time, in step mode if asked, a defence off.

The run is the runner's (``chaos.runner``), the same as ``fallacies run``: the
mesh it runs on comes from the backend's ``for_run``, so a run with a defence
switched off (or an experiment that changes the workload) gets a mesh of its own,
and the hub watches that one until the run ends — the room sees the run it asked
for, not an idle mesh beside it. Stopping cancels the runner, which reverts its
faults and runs the rollbacks, as Ctrl-C does in the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chaos.console.hub import Hub
from chaos.experiment.model import Experiment, FaultStep, select
from chaos.faults import FAULTS
from chaos.journal import Journal
from chaos.mesh.backend import MeshBackend
from chaos.runner import Handler, Runner
from chaos.runner.ablation import protected_results
from chaos.runner.overrides import merge_overrides
from services.common.errors import FallaciesError
from services.workload.config import DEFENCES

__all__ = ["RunBusy", "RunControl", "RunRefused"]

log = logging.getLogger(__name__)

RunState = Literal["starting", "running", "waiting", "passed", "failed", "error", "stopped"]
_PHASES = {"warm-up": "before", "fault": "during", "observe": "after"}


class RunRefused(FallaciesError, ValueError):
    """A run request the console cannot honour (unknown experiment or defence): a 400."""


class RunBusy(FallaciesError):
    """A run is going, or none is waiting for Next: a 409."""


@dataclass
class _Run:
    id: str
    which: str
    step: bool
    quick: bool
    disabled: list[str]
    experiments: list[Experiment]
    state: RunState = "starting"
    index: int = 0
    experiment: Experiment | None = None
    phase: str | None = None
    time_left_s: float | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    report: str | None = None
    go: asyncio.Event = field(default_factory=asyncio.Event)
    skip: bool = False

    def to_dict(self) -> dict[str, Any]:
        exp = self.experiment
        return {
            "id": self.id,
            "which": self.which,
            "state": self.state,
            "step": self.step,
            "quick": self.quick,
            "disabled": self.disabled,
            "index": self.index,
            "total": len(self.experiments),
            "experiment": None
            if exp is None
            else {
                "fallacy": exp.fallacy,
                "name": exp.name,
                "title": exp.title,
                "narration": exp.narration.as_dict(),
            },
            "phase": self.phase,
            "time_left_s": None if self.time_left_s is None else round(self.time_left_s, 1),
            "results": self.results,
            "error": self.error,
            "report": self.report,
        }


class _Events(Handler):
    def __init__(self, run: _Run, hub: Hub) -> None:
        self.run = run
        self.hub = hub

    def phase(self, experiment: Experiment, phase: str, remaining_s: float) -> None:
        self.run.phase = _PHASES.get(phase, phase)
        self.run.time_left_s = remaining_s
        self.hub.kick()

    def fault(
        self,
        experiment: Experiment,
        action: str,
        description: str,
        step: FaultStep | None = None,
    ) -> None:
        # A link's own faults (toxics, down, re-pointed) are seen on its proxy already.
        if step is not None and FAULTS[step.kind].target_kind != "link":
            label = f"{step.kind} (fallacy {experiment.fallacy})"
            self.hub.run_fault(action, step.kind, step.target, label)

    def sample(
        self,
        experiment: Experiment,
        t: float,
        phase: str,
        remaining_s: float,
        key: dict[str, float | None],
        running_s: dict[str, float | None] | None = None,
    ) -> None:
        self.run.time_left_s = remaining_s


def _result(journal: Journal) -> dict[str, Any]:
    status = "passed" if journal.status == "passed" else journal.status
    return {
        "fallacy": journal.fallacy,
        "name": journal.name,
        "title": journal.title,
        "status": "error" if status == "aborted" else status,
        "error": journal.error,
        "expectations": [
            {
                "description": c.description,
                "client": c.client,
                "passed": c.passed,
                "observed": c.observed,
                "op": c.op,
                "threshold": c.threshold,
                "unit": c.unit,
            }
            for c in (*journal.steady_state, *journal.expectations)
        ],
    }


class RunControl:
    """At most one run at a time; its state and the defence matrix go into each snapshot."""

    def __init__(
        self,
        backend: MeshBackend,
        hub: Hub,
        experiments: Sequence[Experiment],
        *,
        out_root: Path,
    ) -> None:
        self.backend = backend
        self.hub = hub
        self.experiments = list(experiments)
        self.out_root = out_root
        self.current: _Run | None = None
        self._task: asyncio.Task[None] | None = None
        self._verdicts: dict[tuple[str, str], str] = {}

    # -- what the page reads ------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "run": None if self.current is None else self.current.to_dict(),
            "matrix": [
                {
                    "fallacy": exp.fallacy,
                    "experiment": exp.name,
                    "defence": defence,
                    "protects": [c.description for c in exp.protected(defence)],
                    "last": self._verdicts.get((exp.name, defence)),
                }
                for exp in self.experiments
                for defence in exp.defences
            ],
        }

    # -- what the page asks -------------------------------------------------------------

    def start(self, *, which: str, quick: bool, step: bool, disable: Sequence[str]) -> _Run:
        if self._task is not None and not self._task.done():
            raise RunBusy("a run is going: stop it first")
        chosen = self._select(which)
        unknown = sorted(set(disable) - set(DEFENCES))
        if unknown:
            raise RunRefused(f"unknown defence {unknown[0]!r}; defences: {', '.join(DEFENCES)}")
        run = _Run(
            id=secrets.token_hex(4),
            which=which,
            step=step,
            quick=quick,
            disabled=sorted(set(disable)),
            experiments=chosen,
        )
        self.current = run
        self._task = asyncio.create_task(self._go(run), name=f"console-run-{run.id}")
        self.hub.kick()
        return run

    def next(self, *, skip: bool) -> _Run:
        run = self.current
        if run is None or run.state != "waiting":
            raise RunBusy("no experiment is waiting for Next")
        run.skip = skip
        run.go.set()
        self.hub.kick()
        return run

    async def stop(self) -> _Run:
        run = self.current
        if run is None or self._task is None or self._task.done():
            raise RunBusy("no run is going")
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.hub.kick()
        return run

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- the run ------------------------------------------------------------------------

    def _select(self, which: str) -> list[Experiment]:
        chosen = select(self.experiments, which)
        if not chosen:
            raise RunRefused(f"no experiment {which!r}; choose all, 1-8 or an experiment name")
        return chosen

    async def _go(self, run: _Run) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        out_dir = self.out_root / f"{stamp}-console-{run.id}"
        journals: list[Journal] = []
        off = {"defences": dict.fromkeys(run.disabled, False)} if run.disabled else None
        overrides = merge_overrides(*(e.workload for e in run.experiments), off) or None
        try:
            async with self.backend.for_run(workload_overrides=overrides) as (state, started):
                if started:
                    why = "defences off: " + ", ".join(run.disabled) if run.disabled else ""
                    self.hub.view(state, f"the run's own mesh ({why or 'its workload differs'})")
                try:
                    runner = Runner(
                        state,
                        quick=run.quick,
                        out_dir=out_dir,
                        handler=_Events(run, self.hub),
                        target=self.backend.name,
                        actor="fallacies-console",
                    )
                    for index, experiment in enumerate(run.experiments, 1):
                        run.index, run.experiment, run.phase = index, experiment, None
                        run.time_left_s = None
                        if run.step:
                            run.state, run.skip = "waiting", False
                            run.go.clear()
                            self.hub.kick()
                            await run.go.wait()
                            if run.skip:
                                continue
                        run.state = "running"
                        self.hub.kick()
                        journal = await runner.run_one(experiment)
                        journals.append(journal)
                        run.results.append(_result(journal))
                        self._judge(run, experiment, journal)
                        self.hub.kick()
                finally:
                    self.hub.run_over()
                    if started:
                        self.hub.restore()
        except asyncio.CancelledError:
            run.state, run.phase, run.time_left_s = "stopped", None, None
            self._write(run, journals, out_dir)
            raise
        except Exception as exc:  # the page shows it; the console keeps serving
            log.exception("console run %s failed", run.id)
            run.state, run.error = "error", str(exc) or type(exc).__name__
        else:
            passed = bool(journals) and all(j.status == "passed" for j in journals)
            run.state = "passed" if passed else "failed" if journals else "stopped"
        run.phase, run.time_left_s = None, None
        self._write(run, journals, out_dir)
        self.hub.kick()

    def _judge(self, run: _Run, experiment: Experiment, journal: Journal) -> None:
        """With exactly one declared defence off, the run is that defence's matrix cell."""
        if len(run.disabled) != 1 or run.disabled[0] not in experiment.defences:
            return
        defence = run.disabled[0]
        if journal.status in ("error", "aborted"):
            self._verdicts[(experiment.name, defence)] = "error"
            return
        results = protected_results(experiment, defence, journal)
        broke = any(not r.passed for r in results)
        self._verdicts[(experiment.name, defence)] = "breaks" if broke else "holds"

    @staticmethod
    def _write(run: _Run, journals: list[Journal], out_dir: Path) -> None:
        if not journals:
            return
        from chaos.report import write_report  # matplotlib: only once a run has ended

        try:
            run.report = str(write_report(journals, out_dir).html)
        except OSError as exc:
            log.warning("could not write the report of run %s: %s", run.id, exc)
