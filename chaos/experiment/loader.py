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

The fault, signal and rollback registries are parameters (defaulting to the real
ones, imported on first use — ``chaos.faults`` imports the model, so importing it
here at module level would be circular), so tests pass small fakes.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import importlib
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from chaos.experiment.errors import ExperimentError, Problem
from chaos.experiment.model import (
    FALLACIES,
    OPS,
    Check,
    CheckPhase,
    ClientSel,
    Experiment,
    FaultStep,
    Narration,
    Op,
    Rollback,
)
from chaos.experiment.yamldoc import INVALID, Document, join, parse
from chaos.experiments import EXPERIMENTS_DIR

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

MAX_METHOD_S = 600.0
"""No fault may end later than this after the method starts: a longer one is a typo
(``20m`` for ``20s``) far more often than a plan, and would hold a workshop hostage."""

NAME_PATTERN = re.compile(r"[a-z0-9-]+")

_TOP_REQUIRED = (
    "title",
    "fallacy",
    "narration",
    "key_signal",
    "steady_state",
    "method",
    "expectations",
)
_TOP_OPTIONAL = (
    "name",
    "signals",
    "warmup_s",
    "observe_after_s",
    "settle_s",
    "recover_s",
    "workload",
    "defences",
    "rollbacks",
)
_NARRATION = ("fallacy", "inject", "watch", "pattern")
_CHECK_REQUIRED = ("signal", "op", "threshold")
_CHECK_OPTIONAL = ("client", "description")
_EXPECTATION_OPTIONAL = (*_CHECK_OPTIONAL, "defended_by")
_STEP_REQUIRED = ("fault", "target", "duration")
_STEP_OPTIONAL = ("at", "quick_duration", "attributes")

_OPS: dict[str, Op] = {op: op for op in OPS}
_OP_TYPOS = {"=>": ">=", "=<": "<=", "=": "==", "<>": "!=", "=!": "!="}
_CLIENTS: dict[str, ClientSel] = {"naive": "naive", "resilient": "resilient", "both": "both"}
_PHASES: dict[str, CheckPhase] = {"during": "during", "after": "after"}

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0}
_DURATION_HINT = "use 500ms, 4s or 1m"
_EXPONENT_TEXT = re.compile(r"[-+]?\d+[eE][-+]?\d+")

T = TypeVar("T")


class FaultValidator(Protocol):
    """What the loader needs of a fault: ``chaos.faults.base.Fault`` fits, so do fakes."""

    def validate(self, step: FaultStep) -> None: ...


class _Missing(enum.Enum):
    """An absent field: a required one is already reported by ``_FileCheck.fields``."""

    MISSING = "MISSING"


MISSING = _Missing.MISSING


RollbackValidator = Callable[[str, Mapping[str, Any]], None]
"""``chaos.faults.rollbacks.validate_rollback``: checks an action's args, FaultSpecError."""


@dataclass(frozen=True)
class _Registries:
    faults: Mapping[str, FaultValidator]
    signals: Mapping[str, object]
    rollbacks: Mapping[str, object]
    rollback_args: RollbackValidator | None = None
    """Only with the real ``ROLLBACKS``: a fake registry's actions take anything."""
    defences: Mapping[str, object] = dataclasses.field(default_factory=dict)
    """The workload's defence switches (``services.workload.config.DEFENCES``)."""


# --------------------------------------------------------------------------- API


def load_experiment(
    path: str | os.PathLike[str],
    *,
    faults: Mapping[str, FaultValidator] | None = None,
    signals: Mapping[str, object] | None = None,
    rollbacks: Mapping[str, object] | None = None,
) -> Experiment:
    """Read and validate one file; raise ``ExperimentError`` listing every problem."""
    registries = _registries(faults, signals, rollbacks)
    experiment, problems, _ = _check_file(Path(path), os.fspath(path), registries)
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
    experiments, problems = _check_directory(directory, faults, signals, rollbacks)
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
    return _check_directory(directory, faults, signals, rollbacks)[1]


def parse_duration(value: object) -> float:
    """Seconds from a number of seconds or a ``500ms`` / ``4s`` / ``1m`` string.

    Raises ``ValueError`` with a message fit to print after the field name.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
        seconds = float(match[1]) * _UNIT_S[match[2]]
    else:
        raise ValueError(f"{_show(value)} is not a duration ({_DURATION_HINT})")
    if not math.isfinite(seconds):
        raise ValueError(f"{_show(value)} is not a duration ({_DURATION_HINT})")
    if seconds < 0:
        raise ValueError(f"{_show(value)} is negative; a duration is 0 or more seconds")
    return seconds


# ---------------------------------------------------------------- files and dirs


def _registries(
    faults: Mapping[str, FaultValidator] | None,
    signals: Mapping[str, object] | None,
    rollbacks: Mapping[str, object] | None,
) -> _Registries:
    rollback_args: RollbackValidator | None = None
    if rollbacks is None:
        rollbacks = _registry("chaos.faults", "ROLLBACKS")
        module = importlib.import_module("chaos.faults.rollbacks")
        rollback_args = cast(RollbackValidator, module.validate_rollback)
    return _Registries(
        faults=faults if faults is not None else _registry("chaos.faults", "FAULTS"),
        signals=signals if signals is not None else _registry("chaos.signals", "SIGNALS"),
        rollbacks=rollbacks,
        rollback_args=rollback_args,
        defences=_registry("services.workload.config", "DEFENCES"),
    )


def _registry(module: str, name: str) -> Mapping[str, Any]:
    """The real registry, imported on first use (see the module docstring)."""
    return cast(Mapping[str, Any], getattr(importlib.import_module(module), name))


def _check_directory(
    directory: str | os.PathLike[str] | None,
    faults: Mapping[str, FaultValidator] | None,
    signals: Mapping[str, object] | None,
    rollbacks: Mapping[str, object] | None,
) -> tuple[list[Experiment], list[Problem]]:
    root = Path(directory) if directory is not None else EXPERIMENTS_DIR
    shown = os.fspath(directory) if directory is not None else os.fspath(EXPERIMENTS_DIR)
    if not root.is_dir():
        return [], [Problem(shown, None, "directory", "no such directory")]
    registries = _registries(faults, signals, rollbacks)
    experiments: list[Experiment] = []
    problems: list[Problem] = []
    first_file: dict[str, str] = {}
    paths = sorted(
        path
        for path in root.iterdir()
        if path.suffix in (".yaml", ".yml") and path.is_file() and not path.name.startswith(".")
    )
    for path in paths:
        file = os.path.join(shown, path.name)
        experiment, found, name_line = _check_file(path, file, registries)
        problems.extend(found)
        if experiment is None:
            continue
        if experiment.name in first_file:
            problems.append(
                Problem(
                    file,
                    name_line,
                    "name",
                    f"{experiment.name!r} is the name of {first_file[experiment.name]} too",
                )
            )
            continue
        first_file[experiment.name] = file
        experiments.append(experiment)
    experiments.sort(key=lambda e: (e.fallacy, e.name))
    return experiments, problems


def _check_file(
    path: Path, file: str, registries: _Registries
) -> tuple[Experiment | None, list[Problem], int]:
    """The experiment (``None`` if anything is wrong), every problem, the name's line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(file, None, "file", f"not UTF-8 text (byte offset {exc.start})")], 1
    except OSError as exc:
        return None, [Problem(file, None, "file", f"cannot read: {exc.strerror or exc}")], 1
    document, yaml_problems = parse(text)
    problems = [Problem(file, p.line, p.field, p.message) for p in yaml_problems]
    if document is None or document.value is None:  # `---` alone is a null document
        if not problems:
            required = ", ".join(_TOP_REQUIRED)
            problems.append(
                Problem(file, 1, "document", f"the file is empty; an experiment needs {required}")
            )
        return None, problems, 1
    check = _FileCheck(file, document, registries)
    experiment = check.experiment(path.stem, path)
    problems.extend(check.problems)
    name_line = document.lines.get("name", document.root_line)
    return (experiment if not problems else None), problems, name_line


# ----------------------------------------------------------------- the schema


class _FileCheck:
    """Validates one document, field by field, collecting problems instead of raising.

    Every getter returns ``None`` when the value is wrong (after reporting it) and
    stays silent on ``MISSING``/``INVALID`` (reported already), so one mistake gives
    one message. Cross checks run only over the parts that came out valid.
    """

    def __init__(self, file: str, doc: Document, registries: _Registries) -> None:
        self.file = file
        self.doc = doc
        self.registries = registries
        self.problems: list[Problem] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, self.doc.line(path), path or "document", message))

    # -- the document ------------------------------------------------------------

    def experiment(self, stem: str, source: Path) -> Experiment | None:
        top = self.fields(self.doc.value, "", _TOP_REQUIRED, _TOP_OPTIONAL)
        if top is None:
            return None
        title = self.text(top.get("title", MISSING), "title")
        fallacy = self.fallacy(top.get("fallacy", MISSING))
        name = self.name(top.get("name", MISSING), stem)
        narration = self.narration(top.get("narration", MISSING))
        key_signal = self.known(
            top.get("key_signal", MISSING), "key_signal", self.registries.signals, "signal"
        )
        signals = self.signals(top.get("signals", []), key_signal)
        warmup_s = self.window(top, "warmup_s", positive=True)
        observe_after_s = self.window(top, "observe_after_s", positive=True)
        settle_s = self.window(top, "settle_s", positive=False)
        recover_s = self.window(top, "recover_s", positive=False)
        if recover_s is not None and observe_after_s is not None and recover_s >= observe_after_s:
            self.error(
                "recover_s",
                f"{_secs(recover_s)} leaves no 'after' window: observe_after_s is "
                f"{_secs(observe_after_s)}",
            )
            recover_s = None
        workload = self.workload(top["workload"]) if "workload" in top else {}
        defences = self.defence_list(top.get("defences", []), "defences")
        steady_state = _all(
            self.each(
                top.get("steady_state", MISSING),
                "steady_state",
                lambda item, path: self.check(item, path, expectation=False),
            )
        )
        steps = self.each(top.get("method", MISSING), "method", self.step)
        method = _all(steps)
        expectations = _all(
            self.each(
                top.get("expectations", MISSING),
                "expectations",
                lambda item, path: self.check(item, path, expectation=True),
            )
        )
        rollbacks = _all(self.each(top.get("rollbacks", []), "rollbacks", self.rollback, minimum=0))

        self.contrast(top.get("expectations", MISSING))
        if defences is not None and expectations is not None:
            self.defended(defences, expectations)
        if steps is not None:
            self.timeline(steps, settle_s if method is not None else None)

        if (
            self.problems
            or title is None
            or fallacy is None
            or name is None
            or narration is None
            or key_signal is None
            or signals is None
            or workload is None
            or defences is None
            or steady_state is None
            or method is None
            or expectations is None
            or rollbacks is None
            or warmup_s is None
            or observe_after_s is None
            or settle_s is None
            or recover_s is None
        ):
            return None
        return Experiment(
            name=name,
            title=title,
            fallacy=fallacy,
            narration=narration,
            key_signal=key_signal,
            signals=signals,
            steady_state=tuple(steady_state),
            method=tuple(method),
            expectations=tuple(expectations),
            rollbacks=tuple(rollbacks),
            workload=workload,
            defences=tuple(defences),
            warmup_s=warmup_s,
            observe_after_s=observe_after_s,
            settle_s=settle_s,
            recover_s=recover_s,
            source=source,
        )

    def fields(
        self,
        value: object,
        path: str,
        required: tuple[str, ...],
        optional: tuple[str, ...],
    ) -> dict[str, object] | None:
        """A mapping with no unknown and no missing keys (each reported by name).

        A typo is reported once, as the unknown key with its suggestion, rather
        than again as the required key it was meant to be.
        """
        if value is MISSING or value is INVALID:
            return None
        if not isinstance(value, dict):
            what = "a mapping of fields" if not path else "a mapping"
            self.error(path, f"expected {what} ({', '.join(required)}); got {_describe(value)}")
            return None
        allowed = (*required, *optional)
        meant: set[str] = set()
        for key in value:
            if key not in allowed:
                self.error(join(path, key), _unknown("field", key, allowed))
                meant.update(difflib.get_close_matches(key, allowed, n=1))
        for key in required:
            if key not in value and key not in meant:
                self.error(join(path, key), "missing (required)")
        return value

    def each(
        self,
        value: object,
        path: str,
        item: Callable[[object, str], T | None],
        *,
        minimum: int = 1,
    ) -> list[T | None] | None:
        """``item(value, path)`` of every entry (``None`` for a bad one); ``None`` if no list."""
        if value is MISSING or value is INVALID:
            return None
        if value is None and minimum == 0:  # `rollbacks:` with nothing after it
            return []
        if not isinstance(value, list):
            self.error(path, f"expected a list; got {_describe(value)}")
            return None
        if len(value) < minimum:
            self.error(path, "is empty; at least one is needed")
            return None
        return [item(entry, f"{path}[{index}]") for index, entry in enumerate(value)]

    # -- top-level fields ----------------------------------------------------------

    def window(self, top: dict[str, object], key: str, *, positive: bool) -> float | None:
        """warmup_s / observe_after_s / settle_s, or the model's default when absent.

        The steady state is checked over the warmup and again over the time after
        the last fault, so those two cannot be 0; settling may take no time at all.
        """
        if key not in top:
            return _default(key)
        seconds = self.duration(top[key], key, positive=False)
        if positive and seconds == 0:
            self.error(key, "must be more than 0: the steady state is checked over it")
            return None
        return seconds

    def fallacy(self, value: object) -> int | None:
        if value is MISSING or value is INVALID:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error("fallacy", f"expected a whole number 1..8; got {_show(value)}")
            return None
        if value not in FALLACIES:
            self.error("fallacy", f"{value} is not one of the eight fallacies; expected 1..8")
            return None
        return value

    def name(self, value: object, stem: str) -> str | None:
        if value is MISSING:
            if NAME_PATTERN.fullmatch(stem):
                return stem
            self.error(
                "name",
                f"none given and the file name {stem!r} is not one ([a-z0-9-]+); "
                "add name: or rename the file",
            )
            return None
        name = self.text(value, "name")
        if name is not None and not NAME_PATTERN.fullmatch(name):
            self.error("name", f"{_show(name)} is not a name; use a-z, 0-9 and -")
            return None
        return name

    def narration(self, value: object) -> Narration | None:
        fields = self.fields(value, "narration", _NARRATION, ())
        if fields is None:
            return None
        parts = {key: self.text(fields.get(key, MISSING), f"narration.{key}") for key in _NARRATION}
        if any(part is None for part in parts.values()):
            return None
        return Narration(**cast(dict[str, str], parts))

    def signals(self, value: object, key_signal: str | None) -> tuple[str, ...] | None:
        names = self.names(value, "signals", self.registries.signals, "signal")
        if names is None:
            return None
        if key_signal is not None and key_signal not in names:
            names.insert(0, key_signal)
        return tuple(names)

    def workload(self, value: object) -> dict[str, Any] | None:
        """Overrides, checked against the workload's own config schema."""
        overrides = self.mapping(value, "workload")
        if overrides is None:
            return None
        from services.common.errors import FieldError
        from services.workload.config import WorkloadConfig

        try:
            WorkloadConfig.from_dict(overrides)
        except FieldError as exc:
            self.error(join("workload", exc.field), _strip_field(str(exc), exc.field))
            return None
        return overrides

    # -- checks, steps, rollbacks ---------------------------------------------------

    def check(self, value: object, path: str, *, expectation: bool) -> Check | None:
        """A steady-state check (phase "before") or an expectation (phase required)."""
        required = (*_CHECK_REQUIRED, "phase") if expectation else _CHECK_REQUIRED
        optional = _EXPECTATION_OPTIONAL if expectation else _CHECK_OPTIONAL
        fields = self.fields(value, path, required, optional)
        if fields is None:
            return None
        signal = self.known(
            fields.get("signal", MISSING), join(path, "signal"), self.registries.signals, "signal"
        )
        op = self.op(fields.get("op", MISSING), join(path, "op"))
        threshold = self.number(fields.get("threshold", MISSING), join(path, "threshold"))
        client = self.choice(fields.get("client", "both"), join(path, "client"), _CLIENTS, "client")
        when: CheckPhase | None = "before"
        if expectation:
            when = self.choice(fields.get("phase", MISSING), join(path, "phase"), _PHASES, "phase")
        description = ""
        if "description" in fields:
            description = self.text(fields["description"], join(path, "description")) or ""
        defended_by: list[str] | None = []
        if expectation and "defended_by" in fields:
            defended_by = self.defence_list(fields["defended_by"], join(path, "defended_by"))
            if defended_by and client is not None and client != "resilient":
                self.error(
                    join(path, "defended_by"),
                    f"only the resilient client has defences; this check is for {client}"
                    " (use client: resilient)",
                )
                defended_by = None
        if (
            signal is None
            or op is None
            or threshold is None
            or client is None
            or when is None
            or defended_by is None
        ):
            return None
        return Check(
            signal=signal,
            op=op,
            threshold=threshold,
            client=client,
            phase=when,
            description=description,
            defended_by=tuple(defended_by),
            line=self.doc.line(path),
        )

    def step(self, value: object, path: str) -> FaultStep | None:
        fields = self.fields(value, path, _STEP_REQUIRED, _STEP_OPTIONAL)
        if fields is None:
            return None
        kind = self.known(
            fields.get("fault", MISSING), join(path, "fault"), self.registries.faults, "fault"
        )
        target = self.text(fields.get("target", MISSING), join(path, "target"))
        at = self.duration(fields.get("at", 0), join(path, "at"), positive=False)
        duration = self.duration(fields.get("duration", MISSING), join(path, "duration"))
        quick: float | None = None
        quick_ok = True
        if "quick_duration" in fields:
            quick = self.duration(fields["quick_duration"], join(path, "quick_duration"))
            quick_ok = quick is not None
        if quick is not None and duration is not None and quick > duration:
            self.error(
                join(path, "quick_duration"),
                f"{_secs(quick)} is longer than duration ({_secs(duration)}); "
                "--quick must not lengthen a fault",
            )
            quick_ok = False
        attributes = self.mapping(fields.get("attributes", {}), join(path, "attributes"))
        if kind is None or target is None or attributes is None:
            return None
        step = FaultStep(
            kind=kind,
            target=target,
            at_s=at if at is not None else 0.0,
            duration_s=duration if duration is not None else 1.0,
            quick_duration_s=quick,
            attributes=attributes,
            line=self.doc.line(path),
        )
        # Even with a bad duration the fault can still say whether its target and
        # attributes are right: one pass reports both.
        fault = self.registries.faults[kind]
        self.owner_check(path, lambda: fault.validate(step))
        if at is None or duration is None or not quick_ok:
            return None
        return step

    def owner_check(self, path: str, check: Callable[[], None]) -> bool:
        """Run a fault's (or rollback's) own check; its ``FaultSpecError`` names a field
        relative to the step, so it is reported under the step's path."""
        from chaos.faults.base import FaultSpecError

        try:
            check()
        except FaultSpecError as exc:
            where = join(path, exc.field) if exc.field else path
            self.error(where, _strip_field(str(exc), exc.field))
            return False
        return True

    def rollback(self, value: object, path: str) -> Rollback | None:
        fields = self.fields(value, path, ("action",), ("args",))
        if fields is None:
            return None
        action = self.known(
            fields.get("action", MISSING),
            join(path, "action"),
            self.registries.rollbacks,
            "rollback action",
        )
        args = self.mapping(fields.get("args", {}), join(path, "args"))
        if action is None or args is None:
            return None
        validate = self.registries.rollback_args
        if validate is not None and not self.owner_check(path, lambda: validate(action, args)):
            return None
        return Rollback(action=action, args=args, line=self.doc.line(path))

    # -- the document as a whole ------------------------------------------------------

    def contrast(self, expectations: object) -> None:
        """Every experiment shows the naive client breaking *and* the resilient one holding.

        Judged on the raw items, so it is reported even when an expectation has a bad
        op or threshold — but not when a phase or client is unreadable, which could
        be the very expectation that is "missing".
        """
        if not isinstance(expectations, list) or not expectations:
            return
        covered: set[str] = set()
        for item in expectations:
            if not isinstance(item, dict):
                return
            phase, client = item.get("phase"), item.get("client", "both")
            if not (isinstance(phase, str) and phase in _PHASES):
                return
            if not (isinstance(client, str) and client in _CLIENTS):
                return
            if phase == "during":
                covered.update(("naive", "resilient") if client == "both" else (client,))
        for client in ("naive", "resilient"):
            if client not in covered:
                self.error(
                    "expectations",
                    f"no 'during' expectation for the {client} client; add one with "
                    f"phase: during and client: {client} (or both)",
                )

    def defended(self, defences: list[str], expectations: list[Check]) -> None:
        """Each declared defence keeps an expectation true; each named one is declared.

        A defence that protects nothing cannot be proven by ablation, and one named
        on an expectation but not declared would be left out of the matrix.
        """
        named = {name for check in expectations for name in check.defended_by}
        for index, name in enumerate(defences):
            if name not in named:
                self.error(
                    f"defences[{index}]",
                    f"{name!r} protects no expectation; add defended_by: [{name}] to the "
                    "resilient expectation it keeps true, or remove it",
                )
        for index, check in enumerate(expectations):
            for position, name in enumerate(check.defended_by):
                if name not in defences:
                    self.error(
                        f"expectations[{index}].defended_by[{position}]",
                        f"{name!r} is not declared; add it to the experiment's defences",
                    )

    def timeline(self, steps: list[FaultStep | None], settle_s: float | None) -> None:
        """Faults end in time, do not pile up on one target, and leave a window to judge.

        ``settle_s`` is ``None`` when it, or any step, is wrong: the window is unknown.
        """
        for index, step in enumerate(steps):
            if step is None:
                continue
            end = step.at_s + step.duration_s
            if end > MAX_METHOD_S:
                self.error(
                    f"method[{index}].duration",
                    f"the fault ends {_secs(end)} after the method starts; the limit is "
                    f"{_secs(MAX_METHOD_S)} (20m where 20s was meant?)",
                )
            for earlier_index, earlier in enumerate(steps[:index]):
                if earlier is None or (earlier.kind, earlier.target) != (step.kind, step.target):
                    continue
                if step.at_s < earlier.at_s + earlier.duration_s and earlier.at_s < end:
                    self.error(
                        f"method[{index}].at",
                        f"{step.kind} on {step.target!r} from {_secs(step.at_s)} to "
                        f"{_secs(end)} overlaps method[{earlier_index}] (from "
                        f"{_secs(earlier.at_s)} to {_secs(earlier.at_s + earlier.duration_s)}); "
                        "one kind of fault on one target must not overlap",
                    )
        method = [step for step in steps if step is not None]
        if settle_s is None or not method:
            return
        start = min(step.at_s for step in method)
        for quick in (False, True):
            span = max(step.at_s + step.duration(quick) for step in method) - start
            if settle_s >= span:
                mode = " with --quick" if quick else ""
                self.error(
                    "settle_s",
                    f"{_secs(settle_s)} leaves no 'during' window: the faults last "
                    f"{_secs(span)}{mode}",
                )
                return

    # -- values ---------------------------------------------------------------------

    def text(self, value: object, path: str) -> str | None:
        if value is MISSING or value is INVALID:
            return None
        if not isinstance(value, str):
            self.error(path, f"expected text; got {_show(value)}")
            return None
        if not value.strip():
            self.error(path, "is empty")
            return None
        return value

    def known(
        self, value: object, path: str, registry: Mapping[str, object], what: str
    ) -> str | None:
        name = self.text(value, path)
        if name is None:
            return None
        if name not in registry:
            self.error(path, _unknown(what, name, registry))
            return None
        return name

    def choice(self, value: object, path: str, options: Mapping[str, T], what: str) -> T | None:
        if value is MISSING or value is INVALID:
            return None
        if isinstance(value, str) and value in options:
            return options[value]
        self.error(path, f"{_show(value)} is not a {what}; expected {' | '.join(options)}")
        return None

    def op(self, value: object, path: str) -> Op | None:
        if value is MISSING or value is INVALID:
            return None
        if isinstance(value, str) and value in _OPS:
            return _OPS[value]
        expected = " ".join(OPS)
        if value == "" or value is None:
            # `op: >` is YAML's folded block scalar: it reads as empty text.
            self.error(path, f'is empty; expected one of {expected}, quoted (op: ">")')
        elif isinstance(value, str) and value in _OP_TYPOS:
            self.error(
                path, f"{_show(value)} is not an operator; did you mean {_OP_TYPOS[value]!r}?"
            )
        else:
            self.error(path, f"{_show(value)} is not an operator; expected one of {expected}")
        return None

    def number(self, value: object, path: str) -> float | None:
        if value is MISSING or value is INVALID:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value):
                return float(value)
            self.error(path, f"{_show(value)} is not a finite number")
            return None
        if isinstance(value, str) and _EXPONENT_TEXT.fullmatch(value.strip()):
            mantissa, _, exponent = value.strip().lower().partition("e")
            self.error(
                path,
                f"{_show(value)} is text to YAML; write {mantissa}.0e{exponent} for a number",
            )
        elif isinstance(value, str) and _is_float(value):
            self.error(path, f"{_show(value)} is quoted text; write the number without quotes")
        else:
            self.error(path, f"expected a number; got {_show(value)}")
        return None

    def duration(self, value: object, path: str, *, positive: bool = True) -> float | None:
        if value is MISSING or value is INVALID:
            return None
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.error(path, str(exc))
            return None
        if positive and seconds == 0:
            self.error(path, f"{_show(value)} must be more than 0")
            return None
        return seconds

    def defence_list(self, value: object, path: str) -> list[str] | None:
        return self.names(value, path, self.registries.defences, "defence")

    def names(
        self, value: object, path: str, registry: Mapping[str, object], what: str
    ) -> list[str] | None:
        """A list of known names, none twice; ``[]`` when empty."""
        items = self.each(
            value, path, lambda item, where: self.known(item, where, registry, what), minimum=0
        )
        if items is None:
            return None
        repeated = False
        for index, name in enumerate(items):
            if name is not None and name in items[:index]:
                self.error(f"{path}[{index}]", f"{name!r} is listed twice")
                repeated = True
        names = _all(items)
        return None if repeated else names

    def mapping(self, value: object, path: str) -> dict[str, Any] | None:
        if value is MISSING or value is INVALID:
            return None
        if value is None:  # `attributes:` with nothing after it
            return {}
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping; got {_describe(value)}")
            return None
        if _contains_invalid(value):
            return None
        return value


# --------------------------------------------------------------------- wording


def _unknown(what: str, name: str, known: Iterable[str]) -> str:
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(names) if names else "none are registered"
    return f"unknown {what} {name!r}{hint} ({what}s: {listing})"


def _strip_field(message: str, field: str) -> str:
    """``FaultSpecError``/``FieldError`` put ``field: `` in front; the path goes there now."""
    prefix = f"{field}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _show(value: object) -> str:
    """A value the way the author wrote it: strings in double quotes, YAML's true/null."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return _describe(value)


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"text {_show(value)}"
    if value is None or isinstance(value, bool | int | float):
        return _show(value)
    return f"a {type(value).__name__} ({value})"


def _secs(seconds: float) -> str:
    return f"{seconds:g}s"


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _all(items: list[T | None] | None) -> list[T] | None:
    """The items when every one came out valid; ``None`` otherwise."""
    if items is None or any(item is None for item in items):
        return None
    return [item for item in items if item is not None]


def _contains_invalid(value: object) -> bool:
    if value is INVALID:
        return True
    if isinstance(value, dict):
        return any(_contains_invalid(item) for item in value.values())
    if isinstance(value, list):
        return any(_contains_invalid(item) for item in value)
    return False


def _default(field_name: str) -> float:
    """The model's default for a duration field: the model owns defaults, not the loader."""
    for spec in dataclasses.fields(Experiment):
        if spec.name == field_name and isinstance(spec.default, float):
            return spec.default
    raise LookupError(f"Experiment has no float field {field_name!r} with a default")
