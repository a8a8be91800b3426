"""Typed field readers and the wording of their messages: one value in, a value or a problem out.

Every reader returns ``None`` when the value is wrong (after reporting it) and stays
silent on ``MISSING``/``INVALID`` (reported already), so one mistake gives one message.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from chaos.experiment.errors import Problem
from chaos.experiment.model import OPS, CheckPhase, ClientSel, Experiment, Op
from chaos.experiment.values import describe, parse_duration, show, unknown
from chaos.loader._registries import Registries
from chaos.loader.yamldoc import INVALID, Document, join

OP_NAMES: dict[str, Op] = {op: op for op in OPS}
_OP_TYPOS = {"=>": ">=", "=<": "<=", "=": "==", "<>": "!=", "=!": "!="}
CLIENTS: dict[str, ClientSel] = {"naive": "naive", "resilient": "resilient", "both": "both"}
PHASES: dict[str, CheckPhase] = {"during": "during", "after": "after"}

_EXPONENT_TEXT = re.compile(r"[-+]?\d+[eE][-+]?\d+")

T = TypeVar("T")


class _Missing(enum.Enum):
    """An absent field: a required one is already reported by ``Reader.fields``."""

    MISSING = "MISSING"


MISSING = _Missing.MISSING


class Reader:
    """Reads values of one document, collecting problems instead of raising."""

    def __init__(self, file: str, doc: Document, registries: Registries) -> None:
        self.file = file
        self.doc = doc
        self.registries = registries
        self.problems: list[Problem] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, self.doc.line(path), path or "document", message))

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
            self.error(path, f"expected {what} ({', '.join(required)}); got {describe(value)}")
            return None
        allowed = (*required, *optional)
        meant: set[str] = set()
        for key in value:
            if key not in allowed:
                self.error(join(path, key), unknown("field", key, allowed))
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
            self.error(path, f"expected a list; got {describe(value)}")
            return None
        if len(value) < minimum:
            self.error(path, "is empty; at least one is needed")
            return None
        return [item(entry, f"{path}[{index}]") for index, entry in enumerate(value)]

    def text(self, value: object, path: str) -> str | None:
        if value is MISSING or value is INVALID:
            return None
        if not isinstance(value, str):
            self.error(path, f"expected text; got {show(value)}")
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
            self.error(path, unknown(what, name, registry))
            return None
        return name

    def choice(self, value: object, path: str, options: Mapping[str, T], what: str) -> T | None:
        if value is MISSING or value is INVALID:
            return None
        if isinstance(value, str) and value in options:
            return options[value]
        self.error(path, f"{show(value)} is not a {what}; expected {' | '.join(options)}")
        return None

    def op(self, value: object, path: str) -> Op | None:
        if value is MISSING or value is INVALID:
            return None
        if isinstance(value, str) and value in OP_NAMES:
            return OP_NAMES[value]
        expected = " ".join(OPS)
        if value == "" or value is None:
            # `op: >` is YAML's folded block scalar: it reads as empty text.
            self.error(path, f'is empty; expected one of {expected}, quoted (op: ">")')
        elif isinstance(value, str) and value in _OP_TYPOS:
            self.error(
                path, f"{show(value)} is not an operator; did you mean {_OP_TYPOS[value]!r}?"
            )
        else:
            self.error(path, f"{show(value)} is not an operator; expected one of {expected}")
        return None

    def number(self, value: object, path: str) -> float | None:
        if value is MISSING or value is INVALID:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value):
                return float(value)
            self.error(path, f"{show(value)} is not a finite number")
            return None
        if isinstance(value, str) and _EXPONENT_TEXT.fullmatch(value.strip()):
            mantissa, _, exponent = value.strip().lower().partition("e")
            self.error(
                path,
                f"{show(value)} is text to YAML; write {mantissa}.0e{exponent} for a number",
            )
        elif isinstance(value, str) and is_float(value):
            self.error(path, f"{show(value)} is quoted text; write the number without quotes")
        else:
            self.error(path, f"expected a number; got {show(value)}")
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
            self.error(path, f"{show(value)} must be more than 0")
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
        names = all_valid(items)
        return None if repeated else names

    def mapping(self, value: object, path: str) -> dict[str, Any] | None:
        if value is MISSING or value is INVALID:
            return None
        if value is None:  # `attributes:` with nothing after it
            return {}
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping; got {describe(value)}")
            return None
        if contains_invalid(value):
            return None
        return value


# --------------------------------------------------------------------- wording


def strip_field(message: str, field: str) -> str:
    """``FaultSpecError``/``FieldError`` put ``field: `` in front; the path goes there now."""
    prefix = f"{field}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def secs(seconds: float) -> str:
    return f"{seconds:g}s"


def is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def all_valid(items: list[T | None] | None) -> list[T] | None:
    """The items when every one came out valid; ``None`` otherwise."""
    if items is None or any(item is None for item in items):
        return None
    return [item for item in items if item is not None]


def contains_invalid(value: object) -> bool:
    if value is INVALID:
        return True
    if isinstance(value, dict):
        return any(contains_invalid(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_invalid(item) for item in value)
    return False


def default_of(field_name: str) -> float:
    """The model's default for a duration field: the model owns defaults, not the loader."""
    for spec in dataclasses.fields(Experiment):
        if spec.name == field_name and isinstance(spec.default, float):
            return spec.default
    raise LookupError(f"Experiment has no float field {field_name!r} with a default")
