"""Experiments as documents: the typed model and the validating loader."""

from chaos.experiment.model import (
    FALLACIES,
    Check,
    Experiment,
    FaultStep,
    Narration,
    Rollback,
)

__all__ = ["FALLACIES", "Check", "Experiment", "FaultStep", "Narration", "Rollback"]
