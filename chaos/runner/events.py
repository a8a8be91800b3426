"""Lifecycle events of a run, for handlers: the terminal display is one, tests another."""

from __future__ import annotations

from chaos.experiment.model import Experiment, FaultStep
from chaos.journal import Journal


class Handler:
    """Override what you need; every method is a no-op by default."""

    def experiment_started(self, experiment: Experiment, index: int, total: int) -> None: ...

    def phase(self, experiment: Experiment, phase: str, remaining_s: float) -> None: ...

    def sample(
        self,
        experiment: Experiment,
        t: float,
        phase: str,
        remaining_s: float,
        key: dict[str, float | None],
        running_s: dict[str, float | None] | None = None,
    ) -> None:
        """``running_s``: per client, how long its running journey had been running."""

    def fault(
        self,
        experiment: Experiment,
        action: str,
        description: str,
        step: FaultStep | None = None,
    ) -> None:
        """``action``: applied, reverted, failed or skipped (this mesh cannot carry it);
        ``step``: the method's step it is."""

    def experiment_finished(self, journal: Journal) -> None: ...


class NullHandler(Handler):
    pass
