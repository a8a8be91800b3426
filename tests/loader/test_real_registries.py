"""Against the real chaos.faults / chaos.signals registries (the loader's defaults)."""

from __future__ import annotations

import pytest

from chaos.experiment import ExperimentError
from chaos.experiments import EXPERIMENTS_DIR
from chaos.loader import load_all, load_experiment, validate_all
from tests.loader.conftest import VALID, Writer, edit, line_of


def test_every_shipped_experiment_is_valid() -> None:
    found = validate_all()
    assert found == [], "\n" + "\n".join(str(problem) for problem in found)
    experiments = load_all()
    assert len(experiments) == len(list(EXPERIMENTS_DIR.glob("*.yaml")))
    assert [e.fallacy for e in experiments] == sorted(e.fallacy for e in experiments)


def test_defaults_are_the_real_registries(write: Writer) -> None:
    text = edit(VALID, "target: api-1", "target: api-9")
    path = write(text)

    with pytest.raises(ExperimentError) as caught:
        load_experiment(path)

    target, args = caught.value.problems
    assert (target.line, target.field) == (line_of(text, "api-9"), "method[0].target")
    assert "'api-9'" in target.message and "api-1" in target.message
    # the real rollback actions check their args; the fakes take anything
    assert (args.line, args.field) == (line_of(text, "force"), "rollbacks[0].args.force")
    assert args.message == "reset_links takes no arguments"
