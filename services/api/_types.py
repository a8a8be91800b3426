"""Type aliases shared by the API modules, kept in one place so signatures stay short."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

Clock: TypeAlias = Callable[[], float]
"""Wall-clock time in unix seconds; the replica's clock, injectable so tests can skew it."""

Monotonic: TypeAlias = Callable[[], float]
"""A monotonic clock in seconds, for ages and durations that must not jump with wall time."""

JSON: TypeAlias = Any
"""Any value ``json.loads`` can return."""

JSONObject: TypeAlias = dict[str, Any]
