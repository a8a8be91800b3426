"""An experiment as typed data: what the loader builds and the runner executes.

Shaped after Chaos Toolkit (steady-state hypothesis, method, rollbacks) but typed,
with expectations per client so every experiment says both "the naive client
breaks" and "the resilient one holds"::

    Experiment
     ├── narration           fallacy / inject / watch / pattern (workshop text)
     ├── key_signal, signals names from chaos.signals.SIGNALS
     ├── steady_state        [Check]      before the first fault and after the last
     ├── method              [FaultStep]  each with a start offset and a duration
     ├── expectations        [Check]      phase "during" or "after", per client;
     │                                    each may name the defences that keep it true
     ├── defences            names        the resilient defences the experiment exercises
     └── rollbacks           [Rollback]   always run: success, failure, Ctrl-C

On one's own services (``fallacy`` 0, ``own``) the checks are probes instead of
signals, faults act on the links of a links file, and ``stop_when`` may end a run early.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

ClientSel = Literal["naive", "resilient", "both"]
Op = Literal["<", "<=", ">", ">=", "==", "!="]
CheckPhase = Literal["before", "during", "after"]

OPS: tuple[Op, ...] = ("<", "<=", ">", ">=", "==", "!=")
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
"""What each op means, for the runner's checks and the probes alike."""

FALLACIES: dict[int, str] = {
    1: "The network is reliable",
    2: "Latency is zero",
    3: "Bandwidth is infinite",
    4: "The network is secure",
    5: "Topology doesn't change",
    6: "There is one administrator",
    7: "Transport cost is zero",
    8: "The network is homogeneous",
}


class ProbeLike(Protocol):
    """What the model needs of a ``chaos.probes.Probe`` (a leaf cannot import it)."""

    @property
    def kind(self) -> str: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Check:
    """``signal`` for ``client`` over the phase's window must satisfy ``op threshold``.

    On one's own services (``probe`` set): the probe, asked about once a second over
    the window, passes in at least ``ratio`` of its calls; ``signal`` is its kind.
    """

    signal: str
    op: Op
    threshold: float
    client: ClientSel = "both"
    phase: CheckPhase = "during"
    description: str = ""
    line: int = 0
    """Line in the experiment file, for error messages."""
    defended_by: tuple[str, ...] = ()
    """Resilient defences that keep this expectation true: with one of them off, it
    must fail (``fallacies ablate`` proves it)."""
    probe: ProbeLike | None = None

    @property
    def ratio(self) -> float:
        """With a probe: the share of its calls in the window that must pass (``>= threshold``)."""
        return self.threshold


@dataclass(frozen=True)
class FaultStep:
    """One fault of the method: ``kind`` (a registered fault) on ``target`` for a while."""

    kind: str
    target: str
    at_s: float
    """Start offset, seconds after the method begins."""
    duration_s: float
    quick_duration_s: float | None = None
    """Duration under ``--quick``; ``None`` means min(duration_s, QUICK_MAX_FAULT_S)."""
    attributes: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    def duration(self, quick: bool) -> float:
        if not quick:
            return self.duration_s
        if self.quick_duration_s is not None:
            return self.quick_duration_s
        return min(self.duration_s, QUICK_MAX_FAULT_S)


QUICK_MAX_FAULT_S = 10.0
OWN = 0
"""The ``fallacy`` of an experiment on one's own services: it shows none of the eight."""


@dataclass(frozen=True)
class Rollback:
    """A named rollback action (registered in chaos.faults) with its arguments."""

    action: str
    args: dict[str, Any] = field(default_factory=dict)
    line: int = 0


NARRATION_LABELS = (
    ("fallacy", "The fallacy"),
    ("inject", "What we inject"),
    ("watch", "What to watch"),
    ("pattern", "The pattern"),
    ("ask", "Ask the room"),
)
"""A narration's parts in teaching order, each with the heading a reader sees."""


@dataclass(frozen=True)
class Narration:
    fallacy: str
    inject: str
    watch: str
    pattern: str
    ask: str = ""
    """The question for the room once the run is over (``run --step``); optional."""

    def as_dict(self) -> dict[str, str]:
        told = {
            "fallacy": self.fallacy,
            "inject": self.inject,
            "watch": self.watch,
            "pattern": self.pattern,
        }
        return {**told, "ask": self.ask} if self.ask else told


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    fallacy: int
    narration: Narration
    key_signal: str
    signals: tuple[str, ...]
    steady_state: tuple[Check, ...]
    method: tuple[FaultStep, ...]
    expectations: tuple[Check, ...]
    rollbacks: tuple[Rollback, ...] = ()
    warmup_s: float = 4.0
    """Seconds of steady state observed before the first fault."""
    observe_after_s: float = 6.0
    """Seconds observed after the last fault ends (the "after" phase)."""
    settle_s: float = 1.0
    """Seconds after a fault starts before the "during" window opens."""
    recover_s: float = 2.0
    """Seconds after the last fault ends before the "after" window opens: a journey
    caught mid-fault may still end in error a little later."""
    workload: dict[str, Any] = field(default_factory=dict)
    """Workload config overrides the experiment needs (e.g. journey pace)."""
    defences: tuple[str, ...] = ()
    """The defences it exercises (``services.workload.config.DEFENCES`` names); each
    protects at least one expectation (``defended_by``)."""
    source: Path | None = None
    links_file: Path | None = None
    """On one's own services: the links file the experiment names (``links:``)."""
    stop_when: tuple[Check, ...] = ()
    """On one's own services: probes that, once one passes, stop the run and revert."""

    @property
    def own(self) -> bool:
        """Against one's own services (probes, links of one's own), not the mesh."""
        return self.fallacy == OWN

    @property
    def fallacy_name(self) -> str:
        return FALLACIES.get(self.fallacy, "Your own services")

    def protected(self, defence: str) -> tuple[Check, ...]:
        """The expectations ``defence`` keeps true."""
        return tuple(c for c in self.expectations if defence in c.defended_by)

    def method_span(self, quick: bool) -> float:
        """Seconds from the method's start to the end of its last fault."""
        return max((step.at_s + step.duration(quick) for step in self.method), default=0.0)


def select(experiments: Sequence[Experiment], which: str) -> list[Experiment]:
    """``all``, a fallacy number, an experiment's name or its title (any case); empty
    when nothing matches (the caller says what to choose from)."""
    if which == "all":
        return list(experiments)
    return [e for e in experiments if which in (e.name, str(e.fallacy)) or which == e.title.lower()]
