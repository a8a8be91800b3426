"""Ablation: switch each declared defence off alone, and see the expectation it protects fail.

The product's claim is causal — *this* defence keeps the resilient client whole
against *this* fallacy — so it is tested like one::

    experiment ──▶ cell "all on"          every defence on: everything must pass
               ├─▶ cell "retries off"     only retries off: what retries protects must fail
               └─▶ cell "timeouts off"    ...

Every cell runs on a private mesh of its own (free ports, a fresh workload whose
config switches that one defence off), so cells share no caches, no balancer
memory and no clock, and up to ``jobs`` of them run side by side. A cell is
*proven* when each of its protected expectations held with every defence on and
at least one failed with that defence off. The matrix (``Matrix``) is what
``fallacies ablate`` writes and exits on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.experiment.model import Check as CheckSpec
from chaos.experiment.model import Experiment
from chaos.journal import Check, Journal
from chaos.matrix import CellVerdict, Matrix, Protected, Row, Verdict
from chaos.mesh.backend import MeshBackend
from chaos.runner.checks import CLIENTS, clients_of
from chaos.runner.engine import Runner
from chaos.runner.events import Handler
from chaos.runner.overrides import merge_overrides
from chaos.signals import SIGNALS

__all__ = [
    "ALL_ON",
    "Ablation",
    "AblationHandler",
    "Cell",
    "cells_for",
    "default_jobs",
    "judge",
    "protected_results",
]

log = logging.getLogger(__name__)

ALL_ON = "all-on"
"""The file stem of a cell with every defence on."""


@dataclass(frozen=True, eq=False)
class Cell:
    """One run of one experiment: every defence on, or one of them off."""

    experiment: Experiment
    defence: str | None = None
    client: str | None = None
    """A client of one's own (its spec), run in the all-on cell only: the cells switch the
    resilient client's defences, which one's own does not have."""

    @property
    def key(self) -> tuple[str, str | None]:
        """What identifies a cell in a run (the experiment itself holds unhashable dicts)."""
        return self.experiment.name, self.defence

    @property
    def label(self) -> str:
        return f"{self.defence} off" if self.defence else "all on"

    @property
    def stem(self) -> str:
        return f"{self.defence}-off" if self.defence else ALL_ON

    @property
    def overrides(self) -> dict[str, Any]:
        switch = {"defences": {self.defence: False}} if self.defence else None
        own = {"own": {"spec": self.client}} if self.client and not self.defence else None
        return merge_overrides(self.experiment.workload, switch, own)


def default_jobs() -> int:
    """Cells side by side: one per core, at most four.

    Three on two cores saturated the machine (a resilient journey's p99 rose from
    ~50 ms to 250–490 ms), and a latency-aware balancer cannot tell a replica 60 ms
    away from one queued behind a busy CPU: fallacy 8's all-on cell then sent 22.7 % and
    31.7 % of its calls to the LTE replica (bar: under 20 %) in two of three
    `fallacies ablate all --quick` runs. At two: every cell proven, in 299 s (259 s at three).
    """
    return max(1, min(4, os.cpu_count() or 1))


def cells_for(experiments: Sequence[Experiment]) -> list[Cell]:
    """Each experiment's all-on cell, then one per declared defence, in declared order."""
    return [
        cell
        for experiment in experiments
        for cell in (Cell(experiment), *(Cell(experiment, d) for d in experiment.defences))
    ]


class AblationHandler:
    """Progress of an ablation; every method is a no-op by default."""

    def cell_started(self, cell: Cell, index: int, total: int) -> None: ...

    def cell_progress(self, cell: Cell, phase: str, remaining_s: float) -> None: ...

    def cell_finished(self, cell: Cell, journal: Journal) -> None: ...


class _CellEvents(Handler):
    """The runner's events of one cell, passed on with the cell they belong to."""

    def __init__(self, cell: Cell, handler: AblationHandler) -> None:
        self.cell = cell
        self.handler = handler

    def phase(self, experiment: Experiment, phase: str, remaining_s: float) -> None:
        self.handler.cell_progress(self.cell, phase, remaining_s)

    def sample(
        self,
        experiment: Experiment,
        t: float,
        phase: str,
        remaining_s: float,
        key: dict[str, float | None],
        running_s: dict[str, float | None] | None = None,
    ) -> None:
        self.handler.cell_progress(self.cell, phase, remaining_s)


def _folder(experiment: Experiment) -> str:
    return f"cells/{experiment.fallacy:02d}-{experiment.name}"


def _failures(journal: Journal) -> tuple[str, ...]:
    lines = [f"error: {journal.error}"] if journal.error else []
    for check in (*journal.steady_state, *journal.expectations):
        if not check.passed:
            lines.append(
                f"{check.client} {check.phase}: {check.description} "
                f"({check.metric} = {_show(check.observed)}, wanted {check.op} {check.threshold:g})"
            )
    lines += [f"fault {f.kind} on {f.target}: {f.error}" for f in journal.faults if f.error]
    return tuple(lines)


def _show(value: float | None) -> str:
    return "none" if value is None else f"{value:.4g}"


def _resilient_result(experiment: Experiment, journal: Journal, spec: CheckSpec) -> Check | None:
    """The journal's result for ``spec``: the runner judges expectations in file order,
    one result per client of each."""
    results = iter(journal.expectations)
    for check in experiment.expectations:
        for client in clients_of(check):
            result = next(results, None)
            if result is None:
                return None
            if check is spec and client == "resilient":
                return result if result.metric == spec.signal else None
    return None


def yours_held(experiment: Experiment, journal: Journal) -> dict[str, bool]:
    """Defence -> a client of one's own held every expectation that defence protects. Its
    results (``advisory``) follow the resilient client's expectations in file order."""
    judged = [c for c in experiment.expectations if c.client in ("resilient", "both")]
    if not journal.advisory or len(journal.advisory) != len(judged):
        return {}
    results = {id(spec): result for spec, result in zip(judged, journal.advisory, strict=True)}
    return {
        defence: all(results[id(s)].passed for s in experiment.protected(defence))
        for defence in experiment.defences
        if all(id(s) in results for s in experiment.protected(defence))
    }


def protected_results(experiment: Experiment, defence: str, journal: Journal) -> list[Check]:
    """The journal's results of the expectations ``defence`` protects (those it has)."""
    found = (_resilient_result(experiment, journal, s) for s in experiment.protected(defence))
    return [result for result in found if result is not None]


def judge(
    experiment: Experiment, defence: str, on: Journal, off: Journal, path: str
) -> CellVerdict:
    """Compare the expectations ``defence`` protects between the all-on and the off run."""
    protected: list[Protected] = []
    for spec in experiment.protected(defence):
        seen_on = _resilient_result(experiment, on, spec)
        seen_off = _resilient_result(experiment, off, spec)
        protected.append(
            Protected(
                description=spec.description or f"{spec.signal} {spec.op} {spec.threshold:g}",
                signal=spec.signal,
                unit=SIGNALS[spec.signal].unit,
                op=spec.op,
                threshold=spec.threshold,
                on=seen_on.observed if seen_on else None,
                off=seen_off.observed if seen_off else None,
                held_on=bool(seen_on and seen_on.passed),
                held_off=bool(seen_off and seen_off.passed),
                stuck_off_s=seen_off.running_s
                if seen_off is not None and seen_off.observed is None
                else 0.0,
            )
        )
    if off.status in ("error", "aborted") or not off.expectations:
        reason = off.error or "the run judged no expectation"
        return CellVerdict(defence, "error", tuple(protected), path, error=reason)
    verdict: Verdict = "holds" if all(p.held_off for p in protected) else "breaks"
    return CellVerdict(defence, verdict, tuple(protected), path)


class Ablation:
    """Runs the cells of some experiments, ``jobs`` at a time, and builds the matrix."""

    def __init__(
        self,
        experiments: Sequence[Experiment],
        *,
        backend: MeshBackend,
        out_dir: Path,
        quick: bool = False,
        jobs: int = 1,
        base_port: int = 0,
        seed: int | None = None,
        handler: AblationHandler | None = None,
        client: tuple[str, str] | None = None,
    ) -> None:
        """``client``: (spec, label) of a client of one's own, run in each all-on cell."""
        if jobs < 1:
            raise ValueError("jobs must be 1 or more")
        if base_port and jobs > 1:
            raise ValueError("cells side by side need free ports: use --base-port 0 with --jobs")
        self.experiments = list(experiments)
        self.backend = backend
        self.out_dir = out_dir
        self.quick = quick
        self.jobs = jobs
        self.base_port = base_port
        self.seed = seed
        self.handler = handler or AblationHandler()
        self.client = client

    async def run(self) -> Matrix:
        from services.workload.config import DEFENCES

        started = time.monotonic()
        matrix = Matrix(
            quick=self.quick,
            jobs=self.jobs,
            yours=self.client[1] if self.client else None,
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        spec = self.client[0] if self.client else None
        cells = [dataclasses.replace(c, client=spec) for c in cells_for(self.experiments)]
        gate = asyncio.Semaphore(self.jobs)
        starting = asyncio.Lock()
        journals: dict[tuple[str, str | None], Journal] = {}

        async def one(index: int, cell: Cell) -> None:
            async with gate:
                self.handler.cell_started(cell, index, len(cells))
                journal = await self._run_cell(cell, starting)
                journal.write(self.out_dir / self._path(cell))
                journals[cell.key] = journal
                self.handler.cell_finished(cell, journal)

        async with asyncio.TaskGroup() as group:
            for index, cell in enumerate(cells, 1):
                group.create_task(one(index, cell))

        used = {d for e in self.experiments for d in e.defences}
        matrix.defences = {name: what for name, what in DEFENCES.items() if name in used}
        for experiment in self.experiments:
            on = journals[experiment.name, None]
            matrix.rows.append(
                Row(
                    name=experiment.name,
                    fallacy=experiment.fallacy,
                    title=experiment.title,
                    all_on=on.status,
                    all_on_journal=self._path(Cell(experiment)),
                    failures=_failures(on) if on.status != "passed" else (),
                    cells=tuple(
                        judge(
                            experiment,
                            defence,
                            on,
                            journals[experiment.name, defence],
                            self._path(Cell(experiment, defence)),
                        )
                        for defence in experiment.defences
                    ),
                    yours=yours_held(experiment, on) if self.client else {},
                )
            )
        matrix.duration_s = round(time.monotonic() - started, 1)
        return matrix

    def _clients(self, cell: Cell) -> tuple[str, ...]:
        if self.client is None or cell.defence is not None:
            return CLIENTS
        return (*CLIENTS, self.client[1])

    def _path(self, cell: Cell) -> str:
        return f"{_folder(cell.experiment)}/{cell.stem}.json"

    async def _run_cell(self, cell: Cell, starting: asyncio.Lock) -> Journal:
        """One cell on a mesh of its own; meshes start one at a time, since a mesh
        starting (a dozen interpreters importing at once) would slow the cells that
        are running and blur their timings."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                async with starting:
                    state, _ = await stack.enter_async_context(
                        self.backend.for_run(
                            base_port=self.base_port,
                            workload_overrides=cell.overrides,
                            seed=self.seed,
                            private=True,
                        )
                    )
                runner = Runner(
                    state,
                    quick=self.quick,
                    handler=_CellEvents(cell, self.handler),
                    target=self.backend.name,
                    clients=self._clients(cell),
                )
                return await runner.run_one(cell.experiment)
        except Exception as exc:
            log.exception("cell %s / %s could not run", cell.experiment.name, cell.label)
            return _failed_to_start(cell, f"{type(exc).__name__}: {exc}")


def _failed_to_start(cell: Cell, error: str) -> Journal:
    """A journal for a cell whose mesh never came up, so the matrix still has its row."""
    from chaos.journal import Signal

    experiment = cell.experiment
    return Journal(
        name=experiment.name,
        title=experiment.title,
        fallacy=experiment.fallacy,
        fallacy_name=experiment.fallacy_name,
        narration=experiment.narration.as_dict(),
        key_signal=Signal(name=experiment.key_signal, title=experiment.key_signal, unit=""),
        signals=[],
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        status="error",
        error=error,
    )
