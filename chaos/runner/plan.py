"""What a run would do, worked out from the same numbers the runner uses: ``--dry-run``.

A chaos run on someone's services is a change to them; the plan says beforehand which
faults land where, at which offset, for how long, and with which TTL the proxy will
end each one on its own should the runner die — and what will be judged, in which
window. Nothing is started, nothing is injected.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from chaos.experiment.model import Check, Experiment
from chaos.faults import FAULTS
from chaos.runner.engine import BEFORE_FROM_S
from chaos.runner.method import TTL_MARGIN_S
from chaos.signals import SIGNALS

__all__ = ["PlannedCheck", "PlannedFault", "RunPlan", "plan"]


@dataclass(frozen=True)
class PlannedFault:
    kind: str
    target: str
    start_s: float
    """Seconds from the run's start (after warm-up)."""
    duration_s: float
    ttl_s: float
    """The TTL the fault is added with: it ends by then even if nobody reverts it."""
    attributes: dict[str, Any]
    units: dict[str, str]


@dataclass(frozen=True)
class PlannedCheck:
    kind: str
    """``steady state`` or ``expectation``."""
    phase: str
    client: str
    signal: str
    op: str
    threshold: float
    unit: str
    """The signal's unit, to read ``threshold`` in."""
    description: str
    window: str
    """When it is judged, in seconds from the run's start."""


@dataclass(frozen=True)
class RunPlan:
    name: str
    title: str
    quick: bool
    total_s: float
    """At least this long; reverting a node can add to the "after" phase."""
    faults: tuple[PlannedFault, ...]
    checks: tuple[PlannedCheck, ...]
    rollbacks: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _span(start: float, end: float) -> str:
    return f"{start:g}–{end:g} s"


def plan(experiment: Experiment, *, quick: bool) -> RunPlan:
    exp = experiment
    method_start = exp.warmup_s
    faults = tuple(
        PlannedFault(
            kind=step.kind,
            target=step.target,
            start_s=method_start + step.at_s,
            duration_s=step.duration(quick),
            ttl_s=step.duration(quick) + TTL_MARGIN_S,
            attributes=dict(step.attributes),
            units=dict(FAULTS[step.kind].units(step)),
        )
        for step in exp.method
    )
    first = min((f.start_s for f in faults), default=method_start)
    last = method_start + exp.method_span(quick)
    total = last + exp.observe_after_s
    windows = {
        "before": _span(BEFORE_FROM_S, method_start),
        "during": _span(first + exp.settle_s, last),
        "after": _span(last + exp.recover_s, total),
        "stop": _span(0.0, total),
    }

    def planned(check: Check, kind: str, phase: str) -> PlannedCheck:
        probe = check.probe
        unit = SIGNALS[check.signal].unit if check.signal in SIGNALS else ""
        return PlannedCheck(
            kind=kind,
            phase=phase,
            client="-" if probe else check.client,
            signal=probe.describe() if probe else check.signal,
            op=check.op,
            threshold=check.threshold,
            unit="ratio" if probe else unit,
            description=check.description,
            window=windows[phase],
        )

    checks = (
        *(planned(c, "steady state", "before") for c in exp.steady_state),
        *(planned(c, "expectation", c.phase) for c in exp.expectations),
        *(planned(c, "steady state", "after") for c in exp.steady_state),
        *(planned(c, "stop condition", "stop") for c in exp.stop_when),
    )
    return RunPlan(
        name=exp.name,
        title=exp.title,
        quick=quick,
        total_s=total,
        faults=faults,
        checks=checks,
        rollbacks=tuple(r.action for r in exp.rollbacks),
    )
