"""What a probe is: one measurement of something outside the mesh, judged on the spot.

A signal reads the workload's own metrics; a probe asks anything a team already
watches — an HTTP endpoint, a Prometheus query, a command — so an experiment can
run against services the project never started. The runner calls ``measure`` about
once a second in each phase and judges the share of calls that passed.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import aiohttp

from chaos.experiment.model import COMPARE
from chaos.experiment.values import parse_duration, show
from services.common.errors import FallaciesError

__all__ = ["Measurement", "Probe", "ProbeSpecError", "compare", "seconds"]

T = TypeVar("T")


class ProbeSpecError(FallaciesError, ValueError):
    """A probe's spec is wrong; ``field`` names the key (``url``, ``max_latency``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        """What is wrong, without the field: a caller puts its own path in front."""
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
    """A duration field, read as everywhere in an experiment file, and more than 0."""
    if key not in spec:
        return default
    try:
        number = parse_duration(spec[key])
    except ValueError as exc:
        raise ProbeSpecError(key, str(exc)) from None
    if number == 0:
        raise ProbeSpecError(key, f"{show(spec[key])} must be more than 0")
    return number


def comparison(spec: Mapping[str, Any]) -> tuple[str, float]:
    op = spec.get("op")
    if not isinstance(op, str) or op not in COMPARE:
        raise ProbeSpecError("op", f"{op!r} is not one of {' '.join(COMPARE)} (quote it in YAML)")
    if "threshold" not in spec:
        raise ProbeSpecError("threshold", "is required with op")
    threshold = typed(spec, "threshold", float, 0.0)
    if not math.isfinite(threshold):
        raise ProbeSpecError("threshold", "must be a finite number")
    return op, threshold


def compare(value: float, op: str, threshold: float) -> bool:
    return COMPARE[op](value, threshold)


def shown(value: float) -> str:
    return f"{value:.4g}"
