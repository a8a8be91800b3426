"""The defence matrix without a mesh: which cells an ablation runs, how a cell is judged,
and what the matrix files say."""

from __future__ import annotations

import json
from pathlib import Path

from chaos.embedded.backend import EmbeddedBackend
from chaos.experiment.model import Check, Experiment, FaultStep, Narration
from chaos.journal import Check as Result
from chaos.journal import Journal, Signal
from chaos.matrix import Matrix
from chaos.report.matrix import write_matrix
from chaos.runner.ablation import Ablation, Cell, cells_for, judge
from chaos.runner.checks import clients_of

NAIVE = Check("journey_success_ratio", "<", 0.8, client="naive", description="naive fails")
HOLDS = Check(
    "journey_success_ratio",
    ">=",
    0.95,
    client="resilient",
    description="resilient holds",
    defended_by=("retries",),
)
FAST = Check(
    "journey_p99_seconds",
    "<",
    1.0,
    client="resilient",
    description="resilient is fast",
    defended_by=("timeouts",),
)
BOTH_AFTER = Check("journey_success_ratio", ">=", 0.9, client="both", phase="after")


def experiment(name: str = "network-is-reliable", **overrides: object) -> Experiment:
    fields: dict[str, object] = {
        "name": name,
        "title": "The network is reliable",
        "fallacy": 1,
        "narration": Narration("f", "i", "w", "p"),
        "key_signal": "journey_success_ratio",
        "signals": ("journey_success_ratio",),
        "steady_state": (Check("journey_success_ratio", ">=", 0.95),),
        "method": (FaultStep("loss", "dns", 0.0, 10.0),),
        "expectations": (NAIVE, HOLDS, BOTH_AFTER, FAST),
        "defences": ("retries", "timeouts"),
        "workload": {"journey": {"interval_s": 0.2}},
    }
    fields.update(overrides)
    return Experiment(**fields)  # type: ignore[arg-type]


def journal(exp: Experiment, observed: dict[str, float | None], status: str = "passed") -> Journal:
    """A journal as the runner writes it: one result per expectation and client, in order;
    ``observed`` maps a check's description to the resilient value (naive values pass)."""
    results = []
    for check in exp.expectations:
        for client in clients_of(check):
            passing = check.threshold / 2 if check.op == "<" else 1.0
            value = 0.5 if client == "naive" else observed.get(check.description, passing)
            passed = (
                value is not None
                and {
                    "<": value < check.threshold,
                    ">=": value >= check.threshold,
                }[check.op]
            )
            results.append(
                Result(
                    description=check.description or f"{check.signal}",
                    phase=check.phase,  # type: ignore[arg-type]
                    client=client,  # type: ignore[arg-type]
                    metric=check.signal,
                    op=check.op,
                    threshold=check.threshold,
                    observed=value,
                    passed=passed,
                )
            )
    return Journal(
        name=exp.name,
        title=exp.title,
        fallacy=exp.fallacy,
        fallacy_name=exp.fallacy_name,
        narration=exp.narration.as_dict(),
        key_signal=Signal("journey_success_ratio", "Journey success ratio", "ratio"),
        signals=[],
        started_at="2026-12-01T00:00:00+00:00",
        status=status,  # type: ignore[arg-type]
        expectations=results,
    )


def test_each_experiment_runs_all_on_then_once_per_declared_defence() -> None:
    one, two = experiment("a"), experiment("b", defences=("retries",))
    cells = cells_for([one, two])
    assert [(c.experiment.name, c.defence) for c in cells] == [
        ("a", None),
        ("a", "retries"),
        ("a", "timeouts"),
        ("b", None),
        ("b", "retries"),
    ]
    assert [c.stem for c in cells[:2]] == ["all-on", "retries-off"]


def test_a_cell_switches_one_defence_off_on_top_of_the_experiments_own_workload() -> None:
    cell = Cell(experiment(), "timeouts")
    assert cell.overrides == {
        "journey": {"interval_s": 0.2},
        "defences": {"timeouts": False},
    }
    assert Cell(experiment()).overrides == {"journey": {"interval_s": 0.2}}


def test_a_cell_breaks_when_its_protected_expectation_fails_with_the_defence_off() -> None:
    exp = experiment()
    on = journal(exp, {})
    off = journal(exp, {"resilient holds": 0.41}, status="failed")
    cell = judge(exp, "retries", on, off, "cells/01-x/retries-off.json")
    assert cell.verdict == "breaks" and cell.proven
    (protected,) = cell.protected
    assert (protected.on, protected.off, protected.unit) == (1.0, 0.41, "ratio")
    assert protected.held_on and not protected.held_off


def test_only_the_expectation_the_defence_protects_counts() -> None:
    exp = experiment()
    on = journal(exp, {})
    # Something else failed with timeouts off, but not what timeouts protect.
    off = journal(exp, {"resilient holds": 0.41}, status="failed")
    cell = judge(exp, "timeouts", on, off, "cells/01-x/timeouts-off.json")
    assert cell.verdict == "holds" and not cell.proven
    assert [p.description for p in cell.protected] == ["resilient is fast"]


def test_a_cell_that_failed_with_every_defence_on_proves_nothing() -> None:
    exp = experiment()
    on = journal(exp, {"resilient holds": 0.5}, status="failed")
    off = journal(exp, {"resilient holds": 0.2}, status="failed")
    cell = judge(exp, "retries", on, off, "x")
    assert cell.verdict == "breaks" and not cell.proven


def test_a_run_that_judged_nothing_is_an_error_not_a_verdict() -> None:
    exp = experiment()
    off = journal(exp, {})
    off.expectations = []
    off.status = "failed"
    off.error = "steady state did not hold before the fault; nothing injected"
    cell = judge(exp, "retries", journal(exp, {}), off, "x")
    assert cell.verdict == "error"
    assert cell.error == off.error


def matrix(exp: Experiment, on: Journal, offs: dict[str, Journal]) -> Matrix:
    from chaos.matrix import Row

    return Matrix(
        rows=[
            Row(
                name=exp.name,
                fallacy=exp.fallacy,
                title=exp.title,
                all_on=on.status,
                all_on_journal="cells/01-x/all-on.json",
                cells=tuple(judge(exp, d, on, offs[d], f"cells/01-x/{d}-off.json") for d in offs),
            )
        ],
        defences={"retries": "retry elsewhere", "timeouts": "deadlines"},
        quick=True,
        jobs=3,
        started_at="2026-12-01T00:00:00+00:00",
        duration_s=61.0,
    )


def test_the_matrix_passes_only_when_every_declared_defence_is_proven(tmp_path: Path) -> None:
    exp = experiment()
    on = journal(exp, {})
    offs = {
        "retries": journal(exp, {"resilient holds": 0.41}, "failed"),
        "timeouts": journal(exp, {"resilient is fast": 4.2}, "failed"),
    }
    good = matrix(exp, on, offs)
    assert good.passed and good.proven == 2 and good.problems == []

    offs["timeouts"] = journal(exp, {})
    bad = matrix(exp, on, offs)
    assert not bad.passed
    assert bad.problems == [
        "network-is-reliable: timeouts off, still held: resilient is fast",
    ]
    # The JSON is the matrix again.
    assert Matrix.from_dict(json.loads(json.dumps(bad.to_dict()))).to_dict() == bad.to_dict()


def test_the_matrix_files_say_which_defence_saves_you(tmp_path: Path) -> None:
    exp = experiment()
    on = journal(exp, {})
    offs = {
        "retries": journal(exp, {"resilient holds": 0.41}, "failed"),
        "timeouts": journal(exp, {}),
    }
    paths = write_matrix(matrix(exp, on, offs), tmp_path)
    html = paths.html.read_text()
    assert "breaks" in html and "still holds" in html
    assert "100 % → 41 %" in html  # the protected signal, on → off, in its unit
    assert 'href="cells/01-x/retries-off.json"' in html
    markdown = paths.markdown.read_text()
    assert (
        "| 1 | network-is-reliable | passed | **breaks** · 100 % → 41 % "
        "| **still holds** · 500 ms → 500 ms |"
    ) in markdown
    data = json.loads(paths.json.read_text())
    assert data["passed"] is False and data["proven"] == 1 and data["cells"] == 2


def test_side_by_side_cells_need_free_ports() -> None:
    import pytest

    with pytest.raises(ValueError, match="base-port 0"):
        Ablation(
            [experiment()],
            backend=EmbeddedBackend(Path("x")),
            out_dir=Path("x"),
            jobs=2,
            base_port=17000,
        )
