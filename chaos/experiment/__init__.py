"""Experiments as data: the typed model a loaded file becomes (``chaos.loader`` reads files).

A leaf: it imports nothing of the project, so faults, signals and the runner can
all take an ``Experiment`` without importing the loader that validates one.
"""

from chaos.experiment.errors import ExperimentError, Problem
from chaos.experiment.model import (
    FALLACIES,
    Check,
    Experiment,
    FaultStep,
    Narration,
    Rollback,
    select,
)

__all__ = [
    "FALLACIES",
    "Check",
    "Experiment",
    "ExperimentError",
    "FaultStep",
    "Narration",
    "Problem",
    "Rollback",
    "select",
]
