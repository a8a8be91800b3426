"""The eight experiments as files, and how a journal is described when a check fails.

Each one runs, quick, with every defence on in the defence matrix's all-on row
(test_defence_matrix.py, on the embedded mesh, its journal asserted there), back to
back on one mesh with nothing left behind after each on the containers
(tests/compose/test_e2e.py) and across three engines (tests/swarm/test_lab.py).
"""

from __future__ import annotations

from chaos.experiments import EXPERIMENTS_DIR
from chaos.journal import Journal
from chaos.loader import load_all


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


EXPERIMENTS = {exp.name: exp for exp in load_all(EXPERIMENTS_DIR)}


def test_there_is_one_experiment_per_fallacy() -> None:
    assert sorted(exp.fallacy for exp in EXPERIMENTS.values()) == list(range(1, 9))
