"""How a value of an experiment or probe spec reads: durations, and the wording of a value.

A leaf both the loader and the probes read, so a duration means the same in every field
of every file (``500ms``, ``4s``, ``1m``, or a number of seconds).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable

__all__ = ["describe", "did_you_mean", "parse_duration", "show", "unknown"]

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0}
_DURATION_HINT = "use 500ms, 4s or 1m"


def parse_duration(value: object) -> float:
    """Seconds from a number of seconds or a ``500ms`` / ``4s`` / ``1m`` string.

    Raises ``ValueError`` with a message fit to print after the field name.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
        seconds = float(match[1]) * _UNIT_S[match[2]]
    else:
        raise ValueError(f"{show(value)} is not a duration ({_DURATION_HINT})")
    if not math.isfinite(seconds):
        raise ValueError(f"{show(value)} is not a duration ({_DURATION_HINT})")
    if seconds < 0:
        raise ValueError(f"{show(value)} is negative; a duration is 0 or more seconds")
    return seconds


def show(value: object) -> str:
    """A value the way the author wrote it: strings in double quotes, YAML's true/null."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return describe(value)


def describe(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"text {show(value)}"
    if value is None or isinstance(value, bool | int | float):
        return show(value)
    return f"a {type(value).__name__} ({value})"


def unknown(what: str, name: str, known: Iterable[str]) -> str:
    """``unknown defence 'retrys'; did you mean 'retries'? (defences: ...)``."""
    names = sorted(known)
    listing = ", ".join(names) if names else "none are registered"
    return f"unknown {what} {name!r}{did_you_mean(name, names)} ({what}s: {listing})"


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``; did you mean 'retries'?`` for the nearest known name, if one is near."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
