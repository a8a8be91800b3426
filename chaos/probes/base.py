"""What a probe is: one measurement of something outside the mesh, judged on the spot.

A signal reads the workload's own metrics; a probe asks anything a team already
watches — an HTTP endpoint, a Prometheus query, a command — so an experiment can
run against services the project never started. The runner calls ``measure`` about
once a second in each phase and judges the share of calls that passed.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import aiohttp

from services.common.errors import FallaciesError

__all__ = ["OPS", "Measurement", "Probe", "ProbeSpecError", "compare", "seconds"]

T = TypeVar("T")

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


class ProbeSpecError(FallaciesError, ValueError):
    """A probe's spec is wrong; ``field`` names the key (``url``, ``max_latency``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


@dataclass(frozen=True)
class Measurement:
    ok: bool
    value: float | None
    """What was measured (a latency in seconds, a query's value, a number printed)."""
    detail: str = ""
    """Why it failed, in words: ``status 503, wanted 200``."""


class Probe(abc.ABC):
    kind: ClassVar[str]
    unit: ClassVar[str] = ""
    """The unit of ``Measurement.value``, for people reading it."""

    @classmethod
    @abc.abstractmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Probe:
        """Build one from the experiment file's mapping; ``ProbeSpecError`` on a bad field."""

    @abc.abstractmethod
    def describe(self) -> str:
        """One line that says what is asked, for reports and JUnit: ``GET http://… 200``."""

    @abc.abstractmethod
    async def measure(self, session: aiohttp.ClientSession) -> Measurement:
        """Ask once; never raise for what the target did (that is a failed measurement)."""


def known_fields(
    spec: Mapping[str, Any], required: tuple[str, ...], optional: tuple[str, ...]
) -> None:
    for key in required:
        if key not in spec:
            raise ProbeSpecError(key, "is required")
    unknown = [key for key in spec if key not in required + optional]
    if unknown:
        allowed = ", ".join(required + optional)
        raise ProbeSpecError(
            str(unknown[0]), f"unknown field; a probe of this kind takes {allowed}"
        )


def typed(spec: Mapping[str, Any], key: str, kind: type[T], default: T) -> T:
    value = spec.get(key, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ProbeSpecError(
            key, f"must be {'a number' if kind is float else kind.__name__}, not {value!r}"
        )
    return value


def seconds(spec: Mapping[str, Any], key: str, default: float | None) -> float | None:
    """A duration field: a number of seconds, or ``500ms`` / ``2s`` / ``1m``."""
    if key not in spec:
        return default
    value = spec[key]
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        for suffix, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
            if text.endswith(suffix):
                try:
                    number = float(text[: -len(suffix)]) * scale
                except ValueError:
                    number = None
                break
    if number is None or not math.isfinite(number) or number <= 0:
        raise ProbeSpecError(key, f"{value!r} is not a duration above 0 (use 500ms, 2s or 1m)")
    return number


def comparison(spec: Mapping[str, Any]) -> tuple[str, float]:
    op = spec.get("op")
    if not isinstance(op, str) or op not in OPS:
        raise ProbeSpecError("op", f"{op!r} is not one of {' '.join(OPS)} (quote it in YAML)")
    if "threshold" not in spec:
        raise ProbeSpecError("threshold", "is required with op")
    threshold = typed(spec, "threshold", float, 0.0)
    if not math.isfinite(threshold):
        raise ProbeSpecError("threshold", "must be a finite number")
    return op, threshold


def compare(value: float, op: str, threshold: float) -> bool:
    return OPS[op](value, threshold)


def shown(value: float) -> str:
    return f"{value:.4g}"
