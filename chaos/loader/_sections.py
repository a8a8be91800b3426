"""Each section of an experiment file on its own: fields, checks, fault steps, rollbacks."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

from chaos.experiment.model import FALLACIES, Check, CheckPhase, FaultStep, Narration, Rollback
from chaos.experiment.values import show
from chaos.faults.base import FaultSpecError
from chaos.loader._registries import FaultValidator
from chaos.loader._values import (
    CLIENTS,
    MISSING,
    PHASES,
    Reader,
    default_of,
    secs,
    strip_field,
)
from chaos.loader.yamldoc import INVALID, join
from services.common.errors import FieldError
from services.workload.config import WorkloadConfig

NAME_PATTERN = re.compile(r"[a-z0-9-]+")

_NARRATION = ("fallacy", "inject", "watch", "pattern")
_CHECK_REQUIRED = ("signal", "op", "threshold")
_CHECK_OPTIONAL = ("client", "description")
_EXPECTATION_OPTIONAL = (*_CHECK_OPTIONAL, "defended_by")
_STEP_REQUIRED = ("fault", "target", "duration")
_STEP_OPTIONAL = ("at", "quick_duration", "attributes")


class SectionReader(Reader):
    """The schema of every section; whole-document rules are ``DocumentCheck``'s."""

    def window(self, top: dict[str, object], key: str, *, positive: bool) -> float | None:
        """warmup_s / observe_after_s / settle_s, or the model's default when absent.

        The steady state is checked over the warmup and again over the time after
        the last fault, so those two cannot be 0; settling may take no time at all.
        """
        if key not in top:
            return default_of(key)
        seconds = self.duration(top[key], key, positive=False)
        if positive and seconds == 0:
            self.error(key, "must be more than 0: the steady state is checked over it")
            return None
        return seconds

    def fallacy(self, value: object) -> int | None:
        if value is MISSING or value is INVALID:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error("fallacy", f"expected a whole number 1..8; got {show(value)}")
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
            self.error("name", f"{show(name)} is not a name; use a-z, 0-9 and -")
            return None
        return name

    def narration(self, value: object) -> Narration | None:
        fields = self.fields(value, "narration", _NARRATION, ("ask",))
        if fields is None:
            return None
        keys = (*_NARRATION, "ask") if "ask" in fields else _NARRATION
        parts = {key: self.text(fields.get(key, MISSING), f"narration.{key}") for key in keys}
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

        try:
            WorkloadConfig.from_dict(overrides)
        except FieldError as exc:
            self.error(join("workload", exc.field), strip_field(str(exc), exc.field))
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
        client = self.choice(fields.get("client", "both"), join(path, "client"), CLIENTS, "client")
        when: CheckPhase | None = "before"
        if expectation:
            when = self.choice(fields.get("phase", MISSING), join(path, "phase"), PHASES, "phase")
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
                f"{secs(quick)} is longer than duration ({secs(duration)}); "
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
        self.owner_check(path, lambda: self.validate_fault(fault, step))
        if at is None or duration is None or not quick_ok:
            return None
        return step

    def validate_fault(self, fault: FaultValidator, step: FaultStep) -> None:
        """The fault's own check of its target and attributes (against the mesh's links)."""
        fault.validate(step)

    def owner_check(self, path: str, check: Callable[[], None]) -> bool:
        """Run a fault's (or rollback's) own check; its ``FaultSpecError`` names a field
        relative to the step, so it is reported under the step's path."""

        try:
            check()
        except FaultSpecError as exc:
            where = join(path, exc.field) if exc.field else path
            self.error(where, strip_field(str(exc), exc.field))
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
