"""What the loader checks names against: faults, signals, rollbacks, defences.

The real registries by default; tests pass small fakes. The loader sits above
``chaos.faults`` and ``chaos.signals``, which import only the experiment model, so
these are plain imports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from chaos.experiment.model import FaultStep
from chaos.faults import FAULTS, ROLLBACKS
from chaos.faults.rollbacks import validate_rollback
from chaos.signals import SIGNALS
from services.workload.config import DEFENCES


class FaultValidator(Protocol):
    """What the loader needs of a fault: ``chaos.faults.base.Fault`` fits, so do fakes."""

    def validate(self, step: FaultStep) -> None: ...


class LinkFaultValidator(Protocol):
    """A fault that works on any link (``Fault.any_link``): checked against one's own."""

    def validate(self, step: FaultStep, links: Mapping[str, str] | None = None) -> None: ...


RollbackValidator = Callable[[str, Mapping[str, Any]], None]
"""``chaos.faults.rollbacks.validate_rollback``: checks an action's args, FaultSpecError."""


@dataclass(frozen=True)
class Registries:
    faults: Mapping[str, FaultValidator]
    signals: Mapping[str, object]
    rollbacks: Mapping[str, object]
    rollback_args: RollbackValidator | None = None
    """Only with the real ``ROLLBACKS``: a fake registry's actions take anything."""
    defences: Mapping[str, object] = dataclasses.field(default_factory=dict)
    """The workload's defence switches (``services.workload.config.DEFENCES``)."""

    @classmethod
    def of(
        cls,
        faults: Mapping[str, FaultValidator] | None = None,
        signals: Mapping[str, object] | None = None,
        rollbacks: Mapping[str, object] | None = None,
    ) -> Registries:
        """The real registry wherever no fake is given."""
        return cls(
            faults=FAULTS if faults is None else faults,
            signals=SIGNALS if signals is None else signals,
            rollbacks=ROLLBACKS if rollbacks is None else rollbacks,
            rollback_args=validate_rollback if rollbacks is None else None,
            defences=DEFENCES,
        )
