"""The defence matrix as a page, a Markdown table and JSON: the table a workshop takes home.

Rows are the experiments, columns the defences. A cell is one run with only that
defence off; it reads *breaks* when what the defence protects failed (the defence is
proven) and *still holds* when it did not (not proven), with the protected signal's
value with every defence on and with this one off::

    | # | experiment          | retries                 | ewma                |
    | 1 | network-is-reliable | breaks · 100 % → 41.2 % |                     |
    | 2 | latency-is-zero     |                         | breaks · 3 % → 49 % |
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from pathlib import Path

from chaos.matrix import CellVerdict, Matrix, Protected, Row
from chaos.report.html import badge, page, table
from chaos.signals.units import show, show_client

__all__ = [
    "MATRIX_FILES",
    "MatrixPaths",
    "render_matrix_html",
    "render_matrix_markdown",
    "write_matrix",
]

MATRIX_FILES = {"html": "matrix.html", "markdown": "matrix.md", "json": "matrix.json"}
TITLE = "Defence matrix: which defence saves you from which fallacy"

_EXPLAIN = (
    "Each row is an experiment, each column a defence of the resilient client. With "
    "<code>--client</code>, a row of yours says whether your client held, in the run "
    "with every defence on, what each defence protects. A cell is "
    "the experiment run again with only that defence switched off. <b>breaks</b>: what "
    "the defence protects failed without it — the defence is what keeps the client "
    "whole. <b>still holds</b>: it did not fail, so the claim is not proven. Values: "
    "with every defence on → with this one off."
)


@dataclass(frozen=True)
class MatrixPaths:
    html: Path
    markdown: Path
    json: Path


def write_matrix(matrix: Matrix, out_dir: Path) -> MatrixPaths:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = MatrixPaths(*(out_dir / MATRIX_FILES[k] for k in ("html", "markdown", "json")))
    paths.html.write_text(render_matrix_html(matrix), encoding="utf-8")
    paths.markdown.write_text(render_matrix_markdown(matrix), encoding="utf-8")
    paths.json.write_text(json.dumps(matrix.to_dict(), indent=2) + "\n", encoding="utf-8")
    return paths


def _off(p: Protected) -> str:
    return show_client(p.off, p.unit, p.stuck_off_s)


def _change(p: Protected) -> str:
    return f"{show(p.on, p.unit)} → {_off(p)}"


def _rule(p: Protected) -> str:
    return f"{p.signal} {p.op} {show(p.threshold, p.unit)}"


def _word(cell: CellVerdict) -> tuple[str, str]:
    """(CSS class, words) of a cell's verdict."""
    if cell.verdict == "error":
        return "error", "error"
    if cell.verdict == "holds":
        return "fail", "still holds"
    if not cell.proven:
        return "fail", "fails with all on"
    return "pass", "breaks"


def _summary_line(matrix: Matrix) -> str:
    mode = "quick" if matrix.quick else "full"
    return (
        f"{matrix.proven}/{matrix.cells} defences proven · {len(matrix.rows)} experiments · "
        f"{mode} durations · {matrix.jobs} at a time · {matrix.duration_s:.0f} s"
    )


# -- HTML ---------------------------------------------------------------------------


def render_matrix_html(matrix: Matrix) -> str:
    verdict = "passed" if matrix.passed else "failed"
    header = (
        f"<header><h1>{escape(TITLE)}</h1>"
        f'<p class="meta">Started {escape(matrix.started_at)} · {escape(_summary_line(matrix))}'
        f"</p><p>{badge(verdict, 'every defence proven' if matrix.passed else 'not proven')}</p>"
        f"<p>{_EXPLAIN}</p></header>"
    )
    columns = list(matrix.defences)
    rows = [_html_row(row, columns) for row in matrix.rows]
    if matrix.yours:
        rows += [_yours_row(row, columns, matrix.yours) for row in matrix.rows if row.yours]
    grid = table(["#", "Experiment", "All on", *columns], rows).replace(
        "<table>", '<table class="matrix">', 1
    )
    legend = "".join(
        f"<dt><code>{escape(name)}</code></dt><dd>{escape(what)}</dd>"
        for name, what in matrix.defences.items()
    )
    parts = [header, "<section><h2>Matrix</h2>", grid, "</section>"]
    parts.append(f'<section><h3>The defences</h3><dl class="narration">{legend}</dl></section>')
    if matrix.problems:
        items = "".join(f"<li>{escape(line)}</li>" for line in matrix.problems)
        parts.append(f'<section><h3>Not proven</h3><ul class="errorbox">{items}</ul></section>')
    parts.append("<section><h3>Every cell</h3>" + _details(matrix) + "</section>")
    return page(TITLE, "\n".join(parts), css=_CSS)


_CSS = """
main { max-width: 1500px; }
table.matrix td, table.matrix th { padding: 4px 6px; }
table.matrix th { white-space: normal; overflow-wrap: anywhere; font-size: 12px; }
table.matrix td.unused { background: var(--soft); }
table.matrix .detail { white-space: nowrap; }
"""


def _html_row(row: Row, columns: list[str]) -> list[str]:
    on = badge("passed" if row.all_on == "passed" else "failed", row.all_on)
    cells = []
    for defence in columns:
        cell = row.cell(defence)
        if cell is None:
            cells.append('<td class="unused" title="not exercised by this experiment"></td>')
            continue
        css, words = _word(cell)
        values = "".join(
            f'<div class="detail" title="{escape(p.description)}">{escape(_change(p))}</div>'
            for p in cell.protected
        )
        cells.append(f"<td>{badge(css, words)}{values}</td>")
    title = f'<span title="{escape(row.title)}"><code>{escape(row.name)}</code></span>'
    return [str(row.fallacy), title, on, *cells]


def _yours_words(row: Row, defence: str) -> str:
    held = row.yours.get(defence)
    return "" if held is None else "holds" if held else "fails"


def _yours_row(row: Row, columns: list[str], name: str) -> list[str]:
    """A client of one's own, in the all-on run: does it hold what each defence protects?"""
    cells = []
    for defence in columns:
        words = _yours_words(row, defence)
        css = "pass" if words == "holds" else "fail"
        cells.append(f"<td>{badge(css, words)}</td>" if words else '<td class="unused"></td>')
    who = f"<code>{escape(row.name)}</code> · yours ({escape(name)})"
    return [str(row.fallacy), who, "all on", *cells]


def _every_protected(matrix: Matrix) -> Iterator[tuple[Row, CellVerdict, Protected]]:
    for row in matrix.rows:
        for cell in row.cells:
            for protected in cell.protected:
                yield row, cell, protected


def _details(matrix: Matrix) -> str:
    lines = [
        [
            str(row.fallacy),
            f"<code>{escape(cell.defence)}</code>",
            escape(p.description),
            f"<code>{escape(_rule(p))}</code>",
            f'<td class="num">{escape(show(p.on, p.unit))}</td>',
            f'<td class="num">{escape(_off(p))}</td>',
            badge(*_word(cell)),
            f'<a href="{escape(cell.journal)}">journal</a>',
        ]
        for row, cell, p in _every_protected(matrix)
    ]
    return table(
        ["#", "Defence off", "Expectation", "Rule", "All on", "Off", "Verdict", "Run"], lines
    )


# -- Markdown -----------------------------------------------------------------------


def render_matrix_markdown(matrix: Matrix) -> str:
    columns = list(matrix.defences)
    out = [f"# {TITLE}", "", _summary_line(matrix), ""]
    out.append(_EXPLAIN.replace("<b>", "**").replace("</b>", "**"))
    out += ["", "| # | experiment | all on | " + " | ".join(columns) + " |"]
    out.append("|---|---|---|" + "---|" * len(columns))
    for row in matrix.rows:
        cells = []
        for defence in columns:
            cell = row.cell(defence)
            if cell is None:
                cells.append("")
                continue
            _, words = _word(cell)
            values = "; ".join(_change(p) for p in cell.protected)
            cells.append(f"**{words}** · {values}")
        out.append(f"| {row.fallacy} | {row.name} | {row.all_on} | " + " | ".join(cells) + " |")
    if matrix.yours:
        out += ["", f"Yours ({matrix.yours}), with its own defences, in the all-on runs:", ""]
        out += ["| # | experiment | " + " | ".join(columns) + " |"]
        out.append("|---|---|" + "---|" * len(columns))
        for row in matrix.rows:
            held = [_yours_words(row, d) for d in columns]
            out.append(f"| {row.fallacy} | {row.name} | " + " | ".join(held) + " |")
    out += ["", "## The defences", ""]
    out += [f"- `{name}`: {what}" for name, what in matrix.defences.items()]
    if matrix.problems:
        out += ["", "## Not proven", ""]
        out += [f"- {line}" for line in matrix.problems]
    out += ["", "## Every cell", "", "| # | defence off | expectation | rule | all on | off |"]
    out.append("|---|---|---|---|---|---|")
    out += [
        f"| {row.fallacy} | `{cell.defence}` | {p.description} | `{_rule(p)}` | "
        f"{show(p.on, p.unit)} | {_off(p)} |"
        for row, cell, p in _every_protected(matrix)
    ]
    return "\n".join(out) + "\n"
