"""A defence switched off must make that experiment's resilient expectation fail.

This proves the expectations can fail: the same experiment that passes with every
defence on fails when the defence it relies on is disabled in the workload's config.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.experiment import load_all
from chaos.experiments import EXPERIMENTS_DIR
from chaos.runner import Runner
from chaos.runner.mesh import mesh_for_run

CASES = [
    # (experiment, defence switched off)
    ("network-is-secure", "verify_signatures"),
    ("one-administrator", "ntp_selection"),
]


@pytest.mark.parametrize(("name", "defence"), CASES)
async def test_disabled_defence_fails_the_resilient_expectation(
    name: str, defence: str, tmp_path: Path
) -> None:
    experiment = next(e for e in load_all(EXPERIMENTS_DIR) if e.name == name)
    overrides = {"defences": {defence: False}}
    async with mesh_for_run(tmp_path, base_port=0, workload_overrides=overrides) as (state, own):
        assert own
        journal = await Runner(state, quick=True).run_one(experiment)
    assert journal.status == "failed"
    resilient = [c for c in journal.expectations if c.client == "resilient"]
    assert any(not c.passed for c in resilient), [(c.description, c.observed) for c in resilient]
    # The naive side of the experiment still behaves: the failure is the defence's.
    naive = [c for c in journal.expectations if c.client == "naive" and c.phase == "during"]
    assert all(c.passed for c in naive)
