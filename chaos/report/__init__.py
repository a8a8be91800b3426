"""The report a person reads after a run: HTML with charts, plus Markdown and JSON.

::

    runs/<stamp>/*.json ──load_journals──▶ [Journal]
                                             │ write_report(journals, out_dir)
                   charts.py  (matplotlib Figure → PNG bytes, faults shaded)
          ┌──────────────────┼──────────────────────┐
    html.py                markdown.py             summary.py
    report.html            report.md               report.json
    (PNGs inline,          (links charts/*.png)    (status, verdicts,
     no network)                                    expectations, files)
"""

from __future__ import annotations

from chaos.report.load import load_journals
from chaos.report.summary import ChartRef, ExperimentSummary, Summary, Verdict
from chaos.report.write import ReportPaths, write_report

__all__ = [
    "ChartRef",
    "ExperimentSummary",
    "ReportPaths",
    "Summary",
    "Verdict",
    "load_journals",
    "write_report",
]
