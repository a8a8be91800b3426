"""Experiments as documents: the typed model and the validating loader."""

from chaos.experiment.errors import ExperimentError, Problem
from chaos.experiment.loader import load_all, load_experiment, validate_all
from chaos.experiment.model import (
    FALLACIES,
    Check,
    Experiment,
    FaultStep,
    Narration,
    Rollback,
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
    "load_all",
    "load_experiment",
    "validate_all",
]
