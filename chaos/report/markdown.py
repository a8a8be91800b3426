"""``report.md``: the same report for a pull request, a wiki or a terminal pager.

Charts are PNG files beside it (``charts/<experiment>-<signal>.png``) rather than
data URIs, which Markdown renderers commonly refuse. Renderers pass raw HTML
through, so a ``<`` that could open a tag in journal text becomes ``&lt;``; a bare
``< 0.05`` stays readable in a pager. Pipes and newlines are neutralised in cells.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape

from chaos.journal import Check, Journal, line_title
from chaos.report import _text
from chaos.report.summary import ExperimentSummary, Summary
from chaos.report.waterfall import waterfall_markdown

_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
"""Where CommonMark would start raw HTML."""


def render_markdown(summary: Summary, journals: Sequence[Journal]) -> str:
    lines = [
        f"# {_inline(summary.title)}",
        "",
        f"Started {_inline(summary.started_at or _text.DASH)} · "
        f"{_inline(_text.counts_line(summary.counts))}",
        "",
        _text.chart_legend(summary.lines),
        "",
        "## Summary",
        "",
        *_table(
            [
                "#",
                "Fallacy",
                "Experiment",
                "Status",
                "Key signal",
                *(line_title(line) for line in summary.lines),
            ],
            [
                [
                    str(e.fallacy),
                    e.fallacy_name,
                    f"[{_cell(e.title)}](#{e.anchor})",
                    f"**{e.status}**",
                    e.key_title,
                    *(_line_cell(e, line) for line in summary.lines),
                ]
                for e in summary.experiments
            ],
            raw={2, 3},
        ),
    ]
    for exp, journal in zip(summary.experiments, journals, strict=True):
        lines += ["", *_experiment(exp, journal)]
    return "\n".join(lines) + "\n"


def _line_cell(exp: ExperimentSummary, line: str) -> str:
    verdict = exp.verdicts.get(line)
    if verdict is None:
        return "not in this run"
    return f"{_text.key_value(exp, line)} ({_text.verdict(verdict)})"


def _experiment(exp: ExperimentSummary, journal: Journal) -> list[str]:
    lines = [
        f'<a id="{escape(exp.anchor)}"></a>',
        "",
        f"## {_text.heading(exp.fallacy)}: {_inline(exp.title)} — **{exp.status}**",
        "",
        f"{_inline(exp.fallacy_name)} · `{exp.name.replace('`', '')}` · started "
        f"{_inline(exp.started_at)} · {_text.seconds(exp.duration_s)} · "
        f"target {_inline(journal.target)}{' · quick' if journal.quick else ''}",
        "",
    ]
    if exp.error:
        lines += ["**Error**", "", "```text", exp.error.replace("```", "'''"), "```", ""]
    for label, text in _text.narration_items(journal.narration):
        paragraphs = [_inline(p.strip()) for p in text.split("\n\n") if p.strip()]
        lines += [f"**{label}.** " + "\n\n".join(paragraphs), ""]
    for ref in exp.charts:
        suffix = " (key signal)" if ref.key else ""
        lines += [f"![{_cell(ref.title)} ({_cell(ref.unit)}){suffix}]({ref.file})", ""]
    lines += waterfall_markdown(journal)
    lines += ["### Expectations", "", *_checks(journal.expectations, "No expectations.")]
    if journal.advisory:
        lines += ["", f"### {_text.ADVISORY}", "", *_checks(journal.advisory, "")]
    lines += ["", "### Steady state", "", *_checks(journal.steady_state, "No checks.")]
    lines += ["", "### Faults applied", ""]
    lines += _table(
        ["Kind", "Target", "Attributes", "Start", "End", "Reverted", "Error"],
        [
            [
                f.kind,
                f.target,
                _text.attributes(f),
                _text.seconds(f.start_s),
                _text.seconds(f.end_s) if f.end_s is not None else "still active",
                "yes" if f.reverted else "no",
                _text.fault_error(f),
            ]
            for f in journal.faults
        ],
        empty="_No faults were applied._",
    )
    lines += ["", "### Rollbacks", ""]
    lines += _table(
        ["Action", "Status", "Detail"],
        [[r.action, r.status, r.detail] for r in journal.rollbacks],
        empty="_No rollbacks recorded._",
    )
    return lines


def _checks(checks: Sequence[Check], empty: str) -> list[str]:
    clients = any(c.client is not None for c in checks)
    return _table(
        [
            "Phase",
            *(["Client"] if clients else []),
            "Expectation",
            "Metric",
            "Rule",
            "Observed",
            "Result",
        ],
        [
            [
                c.phase,
                *([c.client or "both"] if clients else []),
                c.description + (f" ({c.detail})" if c.detail else ""),
                c.metric,
                _text.rule(c),
                _text.observed(c),
                "pass" if c.passed else "**fail**",
            ]
            for c in checks
        ],
        empty=f"_{empty}_",
        raw={6 if clients else 5},
    )


def _table(
    headers: list[str],
    rows: Iterable[list[str]],
    *,
    empty: str = "",
    raw: frozenset[int] | set[int] = frozenset(),
) -> list[str]:
    """A pipe table; cells are escaped unless their column index is in ``raw``."""
    body = [
        "| " + " | ".join(c if i in raw else _cell(c) for i, c in enumerate(row)) + " |"
        for row in rows
    ]
    if not body:
        return [empty] if empty else []
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
        *body,
    ]


def _inline(text: str) -> str:
    return _TAG_OPEN.sub("&lt;", text)


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|").replace("\r", " ").replace("\n", " ")
