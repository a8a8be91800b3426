"""Wording shared by the HTML and Markdown renderers, so both say the same thing."""

from __future__ import annotations

import re

from chaos.experiment.model import NARRATION_LABELS
from chaos.journal import Check, FaultRecord
from chaos.report.summary import ExperimentSummary, Verdict
from chaos.signals.units import show, show_client

DASH = "—"


def number(value: float | None) -> str:
    """Readable at a glance: four significant digits, thousands separated, no ``e+05``."""
    if value is None:
        return DASH
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def rule(check: Check) -> str:
    threshold = show(check.threshold, check.unit) if check.unit else number(check.threshold)
    return f"{check.op} {threshold}"


def observed(check: Check) -> str:
    """What a check saw, in its unit; no value is said (stuck, or no data), not dashed."""
    if check.observed is None:
        return show_client(None, check.unit, check.running_s)
    return show(check.observed, check.unit) if check.unit else number(check.observed)


def key_value(exp: ExperimentSummary, client: str) -> str:
    """The key signal over the fault window for one client; a stuck client says so."""
    return show_client(exp.key.get(client), exp.key_unit, exp.key_running_s.get(client))


def heading(fallacy: int) -> str:
    """``Fallacy 2``, or ``Your own services`` for a run on them (fallacy 0)."""
    return f"Fallacy {fallacy}" if fallacy else "Your own services"


ADVISORY = "Your client, by the resilient client's expectations (shown; never fails the run)"


def chart_legend(lines: tuple[str, ...]) -> str:
    """How to read the charts, for the lines they draw."""
    faults = "grey bands are fault windows (hatched: still active when the run ended)"
    if "naive" not in lines:
        return (
            "Charts: the share of probe calls passing each second (green) over seconds "
            f"since start; {faults}."
        )
    yours = "".join(f", {line} (violet)" for line in lines if line not in ("naive", "resilient"))
    return (
        f"Charts: naive (warm) vs resilient (cool){yours} over seconds since start; {faults}; "
        "dashed lines are the expectations' thresholds; a crossed bar at the bottom means "
        "the client finished no journey (it is stuck)."
    )


def seconds(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f} s"


def narration_items(narration: dict[str, str]) -> list[tuple[str, str]]:
    """The workshop's beats in teaching order, then anything else the journal holds."""
    known = [(label, narration[key]) for key, label in NARRATION_LABELS if narration.get(key)]
    extra = [
        (key.replace("_", " ").capitalize(), text)
        for key, text in narration.items()
        if key not in dict(NARRATION_LABELS) and text
    ]
    return known + extra


def attributes(fault: FaultRecord) -> str:
    """``latency 1500 ms, jitter 300 ms``: attributes as a person reads them."""
    if not fault.attributes:
        return "none"
    parts = []
    for name, value in fault.attributes.items():
        unit = fault.units.get(name, "")
        parts.append(f"{name} {value}{' ' + unit if unit else ''}")
    return ", ".join(parts)


def fault_error(fault: FaultRecord) -> str:
    """The faults table's last column: what went wrong, or why the mesh skipped it."""
    if fault.error:
        return fault.error
    return f"skipped: {fault.skipped}" if fault.skipped else ""


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
