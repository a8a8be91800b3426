"""All eight experiments, quick mode, against a real embedded mesh: asserted from journals.

One mesh serves the module, as ``fallacies run all --quick`` does: experiments run
back to back, so each must leave the mesh as it found it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from chaos.embedded.plan import build_plan
from chaos.embedded.supervisor import Supervisor
from chaos.experiments import EXPERIMENTS_DIR
from chaos.journal import Journal
from chaos.loader import load_all
from chaos.mesh.state import MeshState
from chaos.runner import Runner
from tests.runner.cleanliness import leftovers


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def mesh(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MeshState]:
    state_dir = tmp_path_factory.mktemp("mesh")
    supervisor = Supervisor(build_plan(base_port=0, seed=11), state_dir)
    await supervisor.start()
    try:
        state = MeshState.read(state_dir)
        assert state is not None
        yield state
    finally:
        await supervisor.stop()


def describe(journal: Journal) -> str:
    lines = [f"{journal.name}: {journal.status} {journal.error or ''}"]
    for check in journal.steady_state + journal.expectations:
        mark = "ok " if check.passed else "BAD"
        lines.append(
            f"  {mark} {check.phase:6} {check.client:9} {check.metric} "
            f"{check.observed!r} {check.op} {check.threshold} {check.detail}"
        )
    lines += [
        f"  fault {f.kind}@{f.target} {f.start_s:.1f}-{f.end_s} {f.error}" for f in journal.faults
    ]
    return "\n".join(lines)


async def assert_clean(state: MeshState) -> None:
    """Nothing left behind: links, nodes, DNS, keys, clocks and the catalog as planned."""
    assert await leftovers(state) == []


EXPERIMENTS = {exp.name: exp for exp in load_all(EXPERIMENTS_DIR)}


def test_there_is_one_experiment_per_fallacy() -> None:
    assert sorted(exp.fallacy for exp in EXPERIMENTS.values()) == list(range(1, 9))


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", sorted(EXPERIMENTS, key=lambda n: EXPERIMENTS[n].fallacy))
async def test_experiment_passes_in_quick_mode(name: str, mesh: MeshState, tmp_path: Path) -> None:
    experiment = EXPERIMENTS[name]
    runner = Runner(mesh, quick=True, out_dir=tmp_path)
    journal = await runner.run_one(experiment)
    written = json.loads((tmp_path / f"{experiment.fallacy:02d}-{name}.json").read_text())
    assert Journal.from_dict(written).status == journal.status
    assert journal.status == "passed", describe(journal)
    naive = [c for c in journal.expectations if c.client == "naive" and c.phase == "during"]
    resilient = [c for c in journal.expectations if c.client == "resilient"]
    assert naive and all(c.passed for c in naive)
    assert resilient and all(c.passed for c in resilient)
    assert all(f.reverted for f in journal.faults)
    assert journal.samples and all(journal.key_signal.name in s.values for s in journal.samples)
    await assert_clean(mesh)
