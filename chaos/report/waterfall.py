"""The journey of a request in the report: a waterfall per sampled journey (HTML bars, a
Markdown table), so the room sees where a fault's time went, step by step, hop by hop."""

from __future__ import annotations

from html import escape
from typing import Any, Final

from chaos.journal import Journal
from chaos.report.charts import colour
from chaos.signals.units import show
from chaos.waterfall import Row, Segment, rows, steps_total

__all__ = ["CSS", "TITLE", "waterfall_html", "waterfall_markdown"]

TITLE = "The journey of a request"
HOP_COLOURS: Final = {
    "connect": "#f59f00",
    "send": "#74c0fc",
    "wait": "#adb5bd",
    "body": "#37b24d",
    "dns": "#ae3ec9",
    "ntp": "#ae3ec9",
    "more": "#dee2e6",
}
CSS = """
.wf { font-size: 12px; margin: 0 0 14px; }
.wf .row { display: grid; grid-template-columns: 260px 1fr 170px; gap: 6px; align-items: center; }
.wf .name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.wf .lane { position: relative; height: 12px; background: var(--soft); }
.wf .bar { position: absolute; top: 0; bottom: 0; min-width: 1px; }
.wf .l1 .name { padding-left: 14px; color: #495057; }
.wf .t { font-variant-numeric: tabular-nums; color: #495057; }
.wf-keys span { margin-right: 12px; }
.wf-keys i { display: inline-block; width: 10px; height: 10px; margin-right: 3px; }
"""


def _seconds(value: float) -> str:
    return show(value, "seconds")


def _took(segment: Segment) -> str:
    return _seconds(segment.end_s - segment.start_s)


def _bar(start: float, end: float, total: float, hue: str, title: str) -> str:
    left = min(100.0, max(0.0, start / total * 100))
    width = max(0.0, min(100.0 - left, (end - max(0.0, start)) / total * 100))
    return (
        f'<span class="bar" title="{escape(title)}" '
        f'style="left:{left:.2f}%;width:{width:.2f}%;background:{hue}"></span>'
    )


def _row_html(row: Row, total: float, step_colour: str) -> str:
    if row.segments:
        bars = "".join(
            _bar(s.start_s, s.end_s, total, HOP_COLOURS[s.kind], f"{s.kind} {_took(s)}")
            for s in row.segments
        )
    else:
        hue = step_colour if row.kind == "step" else HOP_COLOURS[row.kind]
        bars = _bar(row.start_s, row.end_s, total, hue, _seconds(row.duration_s))
    detail = f" · {row.detail}" if row.detail else ""
    return (
        f'<div class="row l{row.level}"><span class="name" title="{escape(row.name)}">'
        f"{escape(row.name)}</span>"
        f'<span class="lane">{bars}</span>'
        f'<span class="t">{escape(_seconds(row.duration_s) + detail)}</span></div>'
    )


def _heading(journey: dict[str, Any]) -> str:
    return (
        f"{journey['client']} · {journey['role']} · started at {journey['t']:.1f} s · "
        f"{_seconds(float(journey['duration_s']))} · {journey['outcome']}"
    )


def _missing(journal: Journal) -> list[str]:
    """Clients with no journey shown: a stuck one is said to be stuck, not left out."""
    shown = {j["client"] for j in journal.journeys}
    lines = []
    for client in journal.lines:
        if client in shown:
            continue
        running = journal.key_running_s.get(client, 0.0)
        why = f"one running {_seconds(running)}" if running else "none was traced"
        lines.append(f"{client}: no journey finished during the fault ({why}).")
    return lines


def waterfall_html(journal: Journal) -> str:
    if journal.own:
        return ""
    keys = "".join(
        f'<span><i style="background:{hue}"></i>{kind}</span>'
        for kind, hue in HOP_COLOURS.items()
        if kind not in ("ntp", "more")
    )
    parts = [
        f"<h3>{TITLE}</h3>",
        "<p>Where one journey's time went: each step, and inside it each DNS query and "
        "HTTP request (connect, send, wait for the first byte, body). The steps add up to "
        f'the journey.</p><p class="wf-keys">{keys}</p>',
    ]
    for journey in journal.journeys:
        total = max(float(journey["duration_s"]), 1e-6)
        hue = colour(str(journey["client"]))
        body = "".join(_row_html(row, total, hue) for row in rows(journey))
        summed = _seconds(steps_total(journey))
        parts.append(
            f'<h4>{escape(_heading(journey))}</h4><div class="wf">{body}</div>'
            f'<p class="meta">steps add up to {escape(summed)}</p>'
        )
    parts += [f"<p>{escape(line)}</p>" for line in _missing(journal)]
    return "\n".join(parts)


def waterfall_markdown(journal: Journal) -> list[str]:
    if journal.own:
        return []
    lines = [f"### {TITLE}", ""]
    for journey in journal.journeys:
        lines += [f"**{_heading(journey)}**", "", "| row | from | took | detail |"]
        lines.append("|---|---|---|---|")
        for row in rows(journey):
            indent = "&nbsp;&nbsp;" * row.level
            hops = ", ".join(f"{s.kind} {_took(s)}" for s in row.segments)
            detail = "; ".join(part for part in (row.detail, hops) if part)
            name = row.name.replace("|", "\\|")
            lines.append(
                f"| {indent}{name} | {_seconds(row.start_s)} | {_seconds(row.duration_s)} "
                f"| {detail} |"
            )
        lines.append("")
    lines += [*_missing(journal), ""] if _missing(journal) else []
    return lines
