"""A signal's value as a person reads it: with its unit, scaled (ms, KB, %), never bare.

The signals carry their unit in base terms (``seconds``, ``bytes``, ``ratio``); the
terminal, the report and the defence matrix all print through ``show`` so the same
number reads the same everywhere. 1 KB is 1000 bytes, as the bandwidth toxic counts.
"""

from __future__ import annotations

import math

__all__ = ["NO_VALUE", "STUCK_AFTER_S", "show", "show_client"]

NO_VALUE = "no data"
"""What a value that could not be computed reads as: said, not hidden behind a dash."""
STUCK_AFTER_S = 3.0
"""A client with no value whose journey has been running this long (the runner's
sliding window) is stuck, not quiet."""

_BYTES = (("GB", 1e9), ("MB", 1e6), ("KB", 1e3))


def _digits(value: float) -> str:
    """Three significant digits without an exponent: 0.0123, 1.23, 123, 12,345."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 1e-4:
        text = f"{value:.3g}"
        return text if "e" not in text else f"{value:.6f}".rstrip("0")
    return f"{value:.2e}"


def _money(value: float) -> str:
    """Two significant digits in plain decimals: $0.0000038 per journey, not $3.8e-06."""
    if value == 0 or abs(value) >= 0.01:
        return f"{value:,.2f}"
    decimals = -math.floor(math.log10(abs(value))) + 1
    return f"{value:.{decimals}f}"


def _scaled(value: float, unit: str) -> str:
    for name, scale in _BYTES:
        if abs(value) >= scale:
            return f"{_digits(value / scale)} {name}{unit}"
    return f"{_digits(value)} B{unit}"


def show_client(value: float | None, unit: str, running_s: float | None) -> str:
    """A client's value; with none, whether it is stuck (a journey running for a while)
    or has simply finished nothing yet — never a blank."""
    if value is not None:
        return show(value, unit)
    if running_s is not None and running_s >= STUCK_AFTER_S:
        return f"stuck for {running_s:.0f} s"
    return NO_VALUE


def show(value: float | None, unit: str) -> str:
    """``value`` in ``unit`` for a person: ``1.23 s``, ``45 ms``, ``218 KB``, ``98.2 %``."""
    if value is None:
        return NO_VALUE
    if unit == "seconds":
        if value != 0 and abs(value) < 1:
            return f"{_digits(value * 1000)} ms"
        return f"{_digits(value)} s"
    if unit == "bytes":
        return _scaled(value, "")
    if unit == "bytes/s":
        return _scaled(value, "/s")
    if unit == "ratio":
        return f"{_digits(value * 100)} %"
    if unit == "dollars":
        return f"${_money(value)}"
    if unit == "1/s":
        return f"{_digits(value)}/s"
    if unit == "count":
        return _digits(value)
    return f"{_digits(value)} {unit}".rstrip()
