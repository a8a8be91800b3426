"""Wording shared by the HTML and Markdown renderers, so both say the same thing."""

from __future__ import annotations

import json
import re

from chaos.journal import Check, FaultRecord
from chaos.report.summary import Verdict

NARRATION = (
    ("fallacy", "The fallacy"),
    ("inject", "What we inject"),
    ("watch", "What to watch"),
    ("pattern", "The pattern"),
)
DASH = "—"


def number(value: float | None) -> str:
    """Readable at a glance: four significant digits, thousands separated, no ``e+05``."""
    if value is None:
        return DASH
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def rule(check: Check) -> str:
    return f"{check.op} {number(check.threshold)}"


def seconds(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f} s"


def narration_items(narration: dict[str, str]) -> list[tuple[str, str]]:
    """The workshop's four beats in teaching order, then anything else the journal holds."""
    known = [(label, narration[key]) for key, label in NARRATION if narration.get(key)]
    extra = [
        (key.replace("_", " ").capitalize(), text)
        for key, text in narration.items()
        if key not in dict(NARRATION) and text
    ]
    return known + extra


def attributes(fault: FaultRecord) -> str:
    if not fault.attributes:
        return DASH
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(fault.attributes.items()))


def verdict(value: Verdict) -> str:
    if value.status == "none":
        return "no checks"
    return f"{value.status} {value.met}/{value.total}"


def slug(text: str) -> str:
    """A file-name and HTML-id safe form of an experiment or signal name."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return cleaned or "x"


def counts_line(counts: dict[str, int]) -> str:
    parts = [f"{counts[s]} {s}" for s in ("passed", "failed", "aborted", "error") if counts[s]]
    return f"{counts['total']} experiments: " + (", ".join(parts) if parts else "none run")
