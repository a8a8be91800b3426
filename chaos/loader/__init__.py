"""Experiment files: YAML in, a validated ``Experiment`` out — or every problem at once.

A run that fails on its third fault because of a typo wastes a workshop minute and
leaves a half-injected mesh, so the whole document is checked before anything runs,
and *all* problems are reported together, each as ``FILE:LINE: FIELD: message``::

    broken.yaml:12: method[0].duration: "20x" is not a duration (use 500ms, 4s or 1m)

The format (``chaos/experiments/FORMAT.md`` explains each field at length)::

    title: Latency is zero                # required, text
    fallacy: 2                            # required, 1..8
    name: latency-is-zero                 # optional, default: the file stem; [a-z0-9-]+
    narration:                            # required: all four, non-empty text
      fallacy: ...
      inject: ...
      watch: ...
      pattern: ...
      ask: ...                            # optional: the question for the room afterwards
    key_signal: journey_p99_seconds       # required, a chaos.signals.SIGNALS name
    signals: [journey_success_ratio]      # optional; key_signal is put first if absent
    warmup_s: 4                           # optional durations: seconds, or "500ms" "4s" "1m"
    observe_after_s: 6                    #   warmup_s and observe_after_s more than 0
    settle_s: 1                           #   settle_s 0 or more
    recover_s: 2                          #   time to recover before "after" checks
    workload: {journey: {interval_s: 0.2}}  # optional workload config overrides
    defences: [hedging, ewma]             # optional: the resilient defences it exercises
    steady_state:                         # required, at least one check
      - signal: journey_success_ratio
        op: ">="                          # < <= > >= == != (quote them: YAML reads > and !)
        threshold: 0.95
        client: both                      # naive | resilient | both (default both)
        description: ...                  # optional
    method:                               # required, at least one fault
      - fault: latency                    # a chaos.faults.FAULTS name
        target: api-1                     # checked by the fault
        at: 0s                            # start offset, default 0
        duration: 20s                     # required, more than 0
        quick_duration: 8s                # optional, at most duration
        attributes: {latency: 800}        # optional, checked by the fault
    expectations:                         # required; a check plus a phase
      - phase: during                     # during | after
        client: naive
        signal: journey_p99_seconds
        op: ">"
        threshold: 1.0
        description: naive journeys stall
        defended_by: [hedging]            # resilient only: a declared defence keeping it true
    rollbacks:                            # optional
      - action: reset_links               # a chaos.faults.ROLLBACKS name
        args: {}                          # optional

Beyond each field on its own, the document as a whole must make sense: a "during"
expectation for the naive client and one for the resilient client (the point of
every experiment is the contrast), no fault ending after ``MAX_METHOD_S``, no two
faults of one kind on one target at the same time, and a "during" window left
after ``settle_s``, in ``--quick`` mode too. Every declared defence keeps at least one
expectation true, and an expectation names only declared defences.

The fault, signal and rollback registries are parameters (the real ones by
default), so tests pass small fakes. The layers, one module each::

    yamldoc       YAML with a line for every field
    _values       typed field readers and the wording of their messages
    _sections     each section's schema: fields, checks, fault steps, rollbacks
    _document     the whole document: the experiment, and the rules across sections
    _files        files and directories; names unique across files
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from chaos.experiment.errors import ExperimentError, Problem
from chaos.experiment.model import Experiment
from chaos.experiment.values import parse_duration
from chaos.experiments import EXPERIMENTS_DIR
from chaos.loader._document import MAX_METHOD_S
from chaos.loader._files import check_directory, check_file
from chaos.loader._registries import FaultValidator, Registries

__all__ = [
    "EXPERIMENTS_DIR",
    "MAX_METHOD_S",
    "ExperimentError",
    "FaultValidator",
    "Problem",
    "load_all",
    "load_experiment",
    "parse_duration",
    "validate_all",
]


def load_experiment(
    path: str | os.PathLike[str],
    *,
    faults: Mapping[str, FaultValidator] | None = None,
    signals: Mapping[str, object] | None = None,
    rollbacks: Mapping[str, object] | None = None,
    links: Mapping[str, str] | None = None,
) -> Experiment:
    """Read and validate one file; raise ``ExperimentError`` listing every problem.

    ``links`` (name -> ``tcp``/``udp``) are the targets of an experiment on one's own
    services, from ``--links`` or a proxy's; without them, the file's ``links:`` names them.
    """
    registries = Registries.of(faults, signals, rollbacks)
    experiment, problems, _ = check_file(Path(path), os.fspath(path), registries, links)
    if experiment is None or problems:
        raise ExperimentError(problems)
    return experiment


def load_all(
    directory: str | os.PathLike[str] | None = None,
    *,
    faults: Mapping[str, FaultValidator] | None = None,
    signals: Mapping[str, object] | None = None,
    rollbacks: Mapping[str, object] | None = None,
) -> list[Experiment]:
    """Every ``*.yaml``/``*.yml`` in ``directory`` (default: the shipped ones).

    Ordered by fallacy, then name — the order a workshop walks through them. One
    bad file fails the lot, with the problems of every file in one error, so a
    ``run all`` never stops halfway because of a file nobody checked.
    """
    experiments, problems = check_directory(directory, Registries.of(faults, signals, rollbacks))
    if problems:
        raise ExperimentError(problems)
    return experiments


def validate_all(
    directory: str | os.PathLike[str] | None = None,
    *,
    faults: Mapping[str, FaultValidator] | None = None,
    signals: Mapping[str, object] | None = None,
    rollbacks: Mapping[str, object] | None = None,
) -> list[Problem]:
    """Every problem in every experiment file of ``directory``; empty means all valid.

    For ``fallacies validate`` and CI: it reports instead of raising.
    """
    return check_directory(directory, Registries.of(faults, signals, rollbacks))[1]
