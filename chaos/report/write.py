"""Write a run's report: charts, then the three documents that show them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from chaos.journal import Journal
from chaos.report import _text
from chaos.report.charts import chart_png, chart_signals
from chaos.report.html import render_html
from chaos.report.markdown import render_markdown
from chaos.report.summary import ChartRef, build_summary

DEFAULT_TITLE = "Fallacies of distributed computing — chaos report"
FILES = {"html": "report.html", "markdown": "report.md", "json": "report.json"}
CHARTS_DIR = "charts"


@dataclass(frozen=True)
class ReportPaths:
    """Where the report landed; ``charts`` are the PNGs the Markdown links to."""

    out_dir: Path
    html: Path
    markdown: Path
    json: Path
    charts: tuple[Path, ...]


def write_report(
    journals: list[Journal], out_dir: Path, *, title: str | None = None
) -> ReportPaths:
    """Render every journal's charts once and write HTML, Markdown and JSON into ``out_dir``.

    The PNGs are rendered once and used twice: embedded in the HTML, written
    beside the Markdown. Existing files of the same names are replaced.
    """
    anchors = _unique([_text.slug(j.name) for j in journals])
    refs: list[list[ChartRef]] = []
    pngs: dict[str, bytes] = {}
    for journal, anchor in zip(journals, anchors, strict=True):
        mine = []
        for index, signal in enumerate(chart_signals(journal)):
            ref = ChartRef(
                signal=signal.name,
                title=signal.title,
                unit=signal.unit,
                key=index == 0,
                file=f"{CHARTS_DIR}/{anchor}-{_text.slug(signal.name)}.png",
            )
            pngs[ref.file] = chart_png(journal, signal, key=ref.key)
            mine.append(ref)
        refs.append(mine)
    summary = build_summary(
        journals, refs, anchors, title=title or DEFAULT_TITLE, files=dict(FILES)
    )

    (out_dir / CHARTS_DIR).mkdir(parents=True, exist_ok=True)
    charts = []
    for file, png in pngs.items():
        (out_dir / file).write_bytes(png)
        charts.append(out_dir / file)
    paths = ReportPaths(
        out_dir=out_dir,
        html=out_dir / FILES["html"],
        markdown=out_dir / FILES["markdown"],
        json=out_dir / FILES["json"],
        charts=tuple(charts),
    )
    paths.html.write_text(render_html(summary, journals, pngs), encoding="utf-8")
    paths.markdown.write_text(render_markdown(summary, journals), encoding="utf-8")
    paths.json.write_text(json.dumps(summary.to_dict(), indent=2) + "\n", encoding="utf-8")
    return paths


def _unique(names: list[str]) -> list[str]:
    """Two journals of the same experiment (a re-run) must not share files or anchors."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return out
