"""Small fake registries and a writer for experiment files, shared by the tests.

The fakes stand in for ``chaos.faults`` and ``chaos.signals`` so the loader's own
rules are tested without depending on which faults and signals exist today.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from chaos.experiment import Experiment, ExperimentError, FaultStep, Problem
from chaos.faults.base import FaultSpecError
from chaos.loader import load_all, load_experiment, validate_all

LINKS = ("api-1", "api-2")


class FakeLinkFault:
    """Like a toxic-backed fault: a link target, millisecond attributes."""

    def __init__(self, attributes: tuple[str, ...] = ("latency", "jitter")) -> None:
        self.attributes = attributes

    def validate(self, step: FaultStep) -> None:
        if step.target not in LINKS:
            raise FaultSpecError(
                "target", f"no link named {step.target!r}; links: {', '.join(LINKS)}"
            )
        for key, value in step.attributes.items():
            if key not in self.attributes:
                raise FaultSpecError(f"attributes.{key}", "unknown attribute")
            if not isinstance(value, int) or value < 0:
                raise FaultSpecError(f"attributes.{key}", f"must be 0 or more ms, not {value!r}")


FAULTS = {"latency": FakeLinkFault(), "link_down": FakeLinkFault(attributes=())}
SIGNALS: dict[str, object] = {
    name: object() for name in ("journey_p99_seconds", "journey_success_ratio", "hedges")
}
ROLLBACKS: dict[str, object] = {"reset_links": object(), "start_nodes": object()}

VALID = """\
title: Latency is zero
fallacy: 2
narration:
  fallacy: Calls look instant.
  inject: 800 ms on api-1.
  watch: The naive p99 climbs.
  pattern: Deadlines and hedging.
key_signal: journey_p99_seconds
signals: [journey_success_ratio, hedges]
warmup_s: 2
settle_s: 500ms
workload: {journey: {interval_s: 0.2}}
steady_state:
  - signal: journey_success_ratio
    op: ">="
    threshold: 0.95
method:
  - fault: latency
    target: api-1
    duration: 20s
    quick_duration: 8s
    attributes:
      latency: 800
      jitter: 200
  - fault: link_down
    target: api-2
    at: 1m
    duration: 1500ms
expectations:
  - phase: during
    client: naive
    signal: journey_p99_seconds
    op: ">"
    threshold: 1
    description: naive journeys stall
  - phase: during
    client: resilient
    signal: journey_success_ratio
    op: ">="
    threshold: 0.95
  - phase: after
    signal: journey_p99_seconds
    op: "<"
    threshold: 0.5
rollbacks:
  - action: reset_links
    args: {force: true}
"""


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the ``nth`` line containing ``needle`` (the test's own oracle)."""
    hits = [number for number, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) >= nth, f"{needle!r} is not in the text {nth} time(s)"
    return hits[nth - 1]


def edit(text: str, old: str, new: str) -> str:
    """Replace the one occurrence of ``old`` (fails loudly, so a case cannot rot)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


Writer = Callable[..., Path]


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    def write(text: str, name: str = "exp.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


def load(path: Path) -> Experiment:
    return load_experiment(path, faults=FAULTS, signals=SIGNALS, rollbacks=ROLLBACKS)


def load_directory(directory: Path) -> list[Experiment]:
    return load_all(directory, faults=FAULTS, signals=SIGNALS, rollbacks=ROLLBACKS)


def validate_directory(directory: Path) -> list[Problem]:
    return validate_all(directory, faults=FAULTS, signals=SIGNALS, rollbacks=ROLLBACKS)


def problems(path: Path) -> tuple[Problem, ...]:
    """The problems a broken file gives, after checking they all name the file."""
    with pytest.raises(ExperimentError) as caught:
        load(path)
    error = caught.value
    assert error.problems
    assert str(error) == "\n".join(str(problem) for problem in error.problems)
    for problem in error.problems:
        assert problem.file == str(path)
        assert str(problem).startswith(f"{path}:")
    return error.problems


def only(path: Path, field: str) -> Problem:
    """The single problem of ``path``, which must be about ``field``."""
    found = problems(path)
    assert [problem.field for problem in found] == [field], [str(p) for p in found]
    return found[0]
