"""``report.html``: one self-contained page a person opens from disk or an attachment.

Everything is inline — CSS in a ``<style>`` block, charts as base64 PNG data URIs,
the system font stack — so the page renders offline, prints, and can be mailed.
Every piece of journal text goes through ``escape``: narration and errors are data.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from html import escape

from chaos.journal import Check, Journal, line_title
from chaos.report import _text
from chaos.report.charts import FAULT_COLOUR, colour, label
from chaos.report.summary import ChartRef, ExperimentSummary, Summary, Verdict
from chaos.report.waterfall import CSS as WATERFALL_CSS
from chaos.report.waterfall import waterfall_html

CSS = """
:root { --ink:#212529; --muted:#6c757d; --rule:#dee2e6; --soft:#f8f9fa; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 28px 24px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 0 0 4px; }
h3 { font-size: 15px; margin: 22px 0 6px; text-transform: uppercase; letter-spacing: .04em;
  color: var(--muted); }
a { color: #1864ab; }
.meta, .sub { color: var(--muted); margin: 0 0 8px; }
.legend { display: flex; gap: 18px; flex-wrap: wrap; font-size: 13px; color: var(--muted); }
.swatch { display: inline-block; width: 18px; height: 4px; vertical-align: middle;
  margin-right: 6px; border-radius: 2px; }
.swatch.band { height: 12px; opacity: .35; }
header { border-bottom: 2px solid var(--ink); padding-bottom: 14px; margin-bottom: 24px; }
section.experiment { border-top: 1px solid var(--rule); padding-top: 24px; margin-top: 36px; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; margin: 4px 0 8px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--rule);
  vertical-align: top; }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.detail { color: var(--muted); font-size: 12.5px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
  font-weight: 600; white-space: nowrap; border: 1px solid transparent; }
.passed, .pass, .ok, .yes { background: #ebfbee; color: #2b8a3e; border-color: #b2f2bb; }
.failed, .fail, .no { background: #fff5f5; color: #c92a2a; border-color: #ffc9c9; }
.aborted, .skipped { background: #fff9db; color: #946800; border-color: #ffec99; }
.error { background: #f3f0ff; color: #6741d9; border-color: #d0bfff; }
.none { background: var(--soft); color: var(--muted); border-color: var(--rule); }
dl.narration { display: grid; grid-template-columns: 140px 1fr; gap: 6px 16px; margin: 14px 0;
  padding: 12px 16px; background: var(--soft); border-left: 3px solid var(--rule); }
dl.narration dt { font-weight: 600; color: var(--muted); }
dl.narration dd { margin: 0; }
dl.narration p { margin: 0 0 6px; }
figure { margin: 10px 0; }
figure img { width: 100%; height: auto; display: block; border: 1px solid var(--rule); }
figcaption { font-size: 12.5px; color: var(--muted); margin-top: 3px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 0 16px; }
.errorbox { margin: 12px 0; padding: 10px 14px; border: 1px solid #d0bfff; background: #f8f5ff;
  border-radius: 4px; }
.errorbox pre { margin: 4px 0 0; white-space: pre-wrap; word-break: break-word; font-size: 13px; }
.empty { color: var(--muted); font-style: italic; margin: 2px 0 8px; }
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  section.experiment { break-before: page; border-top: none; margin-top: 0; }
  figure, tr, dl.narration, .errorbox { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def render_html(summary: Summary, journals: Sequence[Journal], pngs: dict[str, bytes]) -> str:
    """The page; ``pngs`` maps each chart's relative ``file`` to its PNG bytes."""
    sections = "\n".join(
        _experiment(exp, journal, pngs)
        for exp, journal in zip(summary.experiments, journals, strict=True)
    )
    body = f"{_header(summary)}\n{_summary_table(summary)}\n{sections}"
    return page(summary.title, body, css=WATERFALL_CSS)


def page(title: str, body: str, *, css: str = "") -> str:
    """A whole self-contained document around ``body`` (already escaped HTML); ``css``
    is added after the report's own style."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{CSS}{css}</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""


def _header(summary: Summary) -> str:
    counts = " ".join(
        f'<span class="badge {s}">{summary.counts[s]} {s}</span>'
        for s in ("passed", "failed", "aborted", "error")
        if summary.counts[s]
    )
    swatches = "".join(
        f'<span><span class="swatch" style="background:{colour(line)}"></span>'
        f"{escape(label(line))}</span>"
        for line in summary.lines
    )
    legend = (
        swatches + f'<span><span class="swatch band" style="background:{FAULT_COLOUR}"></span>'
        "fault window (hatched: still active when the run ended)</span>"
    )
    if "naive" in summary.lines:
        legend += (
            "<span>dashed: an expectation's threshold</span>"
            "<span>crossed bar at the bottom: no journey finished, the client is stuck</span>"
        )
    started = escape(summary.started_at) if summary.started_at else _text.DASH
    return (
        f"<header><h1>{escape(summary.title)}</h1>"
        f'<p class="meta">Started {started} · {escape(_text.counts_line(summary.counts))}</p>'
        f"<p>{counts}</p>"
        f'<div class="legend">{legend}</div></header>'
    )


def _summary_table(summary: Summary) -> str:
    rows = [
        [
            str(e.fallacy),
            escape(e.fallacy_name),
            f'<a href="#{escape(e.anchor)}">{escape(e.title)}</a>',
            badge(e.status),
            escape(e.key_title),
            *(_client_cell(e, line) for line in summary.lines),
        ]
        for e in summary.experiments
    ]
    headers = ["#", "Fallacy", "Experiment", "Status", "Key signal (during the fault)"]
    titles = [line_title(line) for line in summary.lines]
    return "<section><h2>Summary</h2>" + table([*headers, *titles], rows) + "</section>"


def _client_cell(exp: ExperimentSummary, client: str) -> str:
    verdict = exp.verdicts.get(client)
    if verdict is None:
        return '<td class="num">not in this run</td>'
    value = escape(_text.key_value(exp, client))
    return f'<td class="num">{value} {_verdict(verdict)}</td>'


def _experiment(exp: ExperimentSummary, journal: Journal, pngs: dict[str, bytes]) -> str:
    parts = [
        f'<section class="experiment" id="{escape(exp.anchor)}">',
        f"<h2>{_text.heading(exp.fallacy)}: {escape(exp.title)} {badge(exp.status)}</h2>",
        f'<p class="sub">{escape(exp.fallacy_name)} · <code>{escape(exp.name)}</code> · '
        f"started {escape(exp.started_at)} · {_text.seconds(exp.duration_s)} · "
        f"target {escape(journal.target)}{' · quick' if journal.quick else ''}</p>",
    ]
    if exp.error:
        parts.append(
            f'<div class="errorbox"><strong>Error</strong><pre>{escape(exp.error)}</pre></div>'
        )
    parts.append(_narration(journal.narration))
    parts.append(_charts(exp.charts, pngs))
    parts.append(waterfall_html(journal))
    parts.append(
        "<h3>Expectations</h3>" + _checks(journal.expectations, "No expectations were evaluated.")
    )
    if journal.advisory:
        parts.append(f"<h3>{escape(_text.ADVISORY)}</h3>" + _checks(journal.advisory, ""))
    parts.append(
        "<h3>Steady state</h3>" + _checks(journal.steady_state, "No steady-state checks ran.")
    )
    parts.append("<h3>Faults applied</h3>" + _faults(journal))
    parts.append("<h3>Rollbacks</h3>" + _rollbacks(journal))
    parts.append("</section>")
    return "\n".join(parts)


def _narration(narration: dict[str, str]) -> str:
    items = _text.narration_items(narration)
    if not items:
        return ""
    body = "".join(f"<dt>{escape(label)}</dt><dd>{_paragraphs(text)}</dd>" for label, text in items)
    return f'<dl class="narration">{body}</dl>'


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip())


def _charts(refs: Sequence[ChartRef], pngs: dict[str, bytes]) -> str:
    key = [_figure(r, pngs[r.file]) for r in refs if r.key]
    others = [_figure(r, pngs[r.file]) for r in refs if not r.key]
    grid = f'<div class="grid">{"".join(others)}</div>' if others else ""
    return "".join(key) + grid


def _figure(ref: ChartRef, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    alt = f"{ref.title} ({ref.unit}) over time, fault windows shaded"
    caption = f"{ref.title} — {ref.unit}" + (" · key signal" if ref.key else "")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{escape(alt)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _checks(checks: Sequence[Check], empty: str) -> str:
    if not checks:
        return f'<p class="empty">{escape(empty)}</p>'
    clients = any(c.client is not None for c in checks)
    rows = [
        [
            escape(c.phase),
            *([escape(c.client or "both")] if clients else []),
            escape(c.description)
            + (f'<div class="detail">{escape(c.detail)}</div>' if c.detail else ""),
            f"<code>{escape(c.metric)}</code>",
            num(_text.rule(c)),
            num(_text.observed(c)),
            badge("pass" if c.passed else "fail"),
        ]
        for c in checks
    ]
    who = ["Client"] if clients else []
    return table(["Phase", *who, "Expectation", "Metric", "Rule", "Observed", "Result"], rows)


def _faults(journal: Journal) -> str:
    if not journal.faults:
        return '<p class="empty">No faults were applied.</p>'
    rows = [
        [
            escape(f.kind),
            escape(f.target),
            escape(_text.attributes(f)),
            num(_text.seconds(f.start_s)),
            num(_text.seconds(f.end_s) if f.end_s is not None else "still active"),
            badge("yes" if f.reverted else "no"),
            escape(_text.fault_error(f)),
        ]
        for f in journal.faults
    ]
    return table(["Kind", "Target", "Attributes", "Start", "End", "Reverted", "Error"], rows)


def _rollbacks(journal: Journal) -> str:
    if not journal.rollbacks:
        return '<p class="empty">No rollbacks recorded.</p>'
    rows = [[escape(r.action), badge(r.status), escape(r.detail)] for r in journal.rollbacks]
    return table(["Action", "Status", "Detail"], rows)


def table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(content: str) -> str:
    return content if content.startswith("<td") else f"<td>{content}</td>"


def num(text: str) -> str:
    return f'<td class="num">{escape(text)}</td>'


def badge(status: str, label: str | None = None) -> str:
    """A coloured pill; ``status`` picks the colour (a CSS class), ``label`` the words."""
    return f'<span class="badge {escape(status)}">{escape(label or status)}</span>'


def _verdict(value: Verdict) -> str:
    return f'<span class="badge {value.status}">{escape(_text.verdict(value))}</span>'
