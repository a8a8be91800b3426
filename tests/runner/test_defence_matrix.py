"""Every declared defence proven: the whole defence matrix, quick mode, on real meshes.

One ablation serves the module, as ``fallacies ablate all --quick`` runs it: each
experiment with every defence on, then once per declared defence with only that one
off, each cell on a private mesh, a few side by side. Each cell is then asserted on
the very expectation its defence protects — not on "something failed" — and each
all-on journal on what the experiment shows: the naive client failing during the fault,
the resilient one holding, every fault reverted, the key signal sampled.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from chaos.embedded.backend import EmbeddedBackend
from chaos.experiments import EXPERIMENTS_DIR
from chaos.journal import Journal
from chaos.loader import load_all
from chaos.matrix import Matrix
from chaos.report.matrix import write_matrix
from chaos.runner.ablation import Ablation, default_jobs
from chaos.signals.units import show
from tests.runner.test_experiments import describe

pytestmark = pytest.mark.timeout(900)  # the ablation: 336 s at one cell per core on two

EXPERIMENTS = load_all(EXPERIMENTS_DIR)
CELLS = [(e.name, d) for e in EXPERIMENTS for d in e.defences]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("matrix")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def matrix(out: Path) -> AsyncIterator[Matrix]:
    result = await Ablation(
        EXPERIMENTS,
        backend=EmbeddedBackend(out / "state"),
        out_dir=out,
        quick=True,
        jobs=default_jobs(),
    ).run()
    write_matrix(result, out)
    yield result


def test_every_experiment_declares_a_defence() -> None:
    assert all(e.defences for e in EXPERIMENTS)
    assert len(CELLS) >= 14


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", [e.name for e in EXPERIMENTS])
async def test_with_every_defence_on_the_experiment_passes(
    name: str, matrix: Matrix, out: Path
) -> None:
    row = next(r for r in matrix.rows if r.name == name)
    journal = Journal.from_dict(json.loads((out / row.all_on_journal).read_text()))
    assert row.all_on == journal.status == "passed", describe(journal)
    naive = [c for c in journal.expectations if c.client == "naive" and c.phase == "during"]
    resilient = [c for c in journal.expectations if c.client == "resilient"]
    assert naive and all(c.passed for c in naive)
    assert resilient and all(c.passed for c in resilient)
    assert journal.faults and all(f.reverted for f in journal.faults)
    assert journal.samples and all(journal.key_signal.name in s.values for s in journal.samples)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("name", "defence"), CELLS, ids=[f"{n}-{d}" for n, d in CELLS])
async def test_switching_the_defence_off_breaks_what_it_protects(
    name: str, defence: str, matrix: Matrix
) -> None:
    row = next(r for r in matrix.rows if r.name == name)
    cell = row.cell(defence)
    assert cell is not None
    seen = "; ".join(
        f"{p.description}: {show(p.on, p.unit)} on, {show(p.off, p.unit)} off "
        f"({p.signal} {p.op} {show(p.threshold, p.unit)})"
        for p in cell.protected
    )
    assert cell.verdict == "breaks", cell.error or seen
    assert all(p.held_on for p in cell.protected), seen
    assert any(not p.held_off for p in cell.protected), seen


@pytest.mark.asyncio(loop_scope="module")
async def test_the_matrix_is_written_and_passes(matrix: Matrix, tmp_path: Path) -> None:
    paths = write_matrix(matrix, tmp_path)
    assert matrix.passed, "\n".join(matrix.problems)
    assert Matrix.read(paths.json).to_dict() == matrix.to_dict()
    assert "every defence proven" in paths.html.read_text()
