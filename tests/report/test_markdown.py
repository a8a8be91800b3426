from __future__ import annotations

import re

from chaos.journal import Journal
from chaos.report import ReportPaths, write_report
from tests.report import factory
from tests.report.conftest import png_size


def test_markdown_links_charts_that_exist(run: list[Journal], report: ReportPaths) -> None:
    text = report.markdown.read_text()
    links = re.findall(r"!\[[^\]]*\]\((charts/[^)]+\.png)\)", text)
    assert len(links) == len(report.charts) == len(set(links))
    for link in links:
        path = report.out_dir / link
        assert path.is_file() and png_size(path.read_bytes())
    assert text.count("\n## Fallacy ") == len(run)


def test_markdown_escapes_html_and_table_pipes(tmp_path) -> None:
    journal = factory.journal(narration={"fallacy": "<script>x</script>"})
    journal.expectations[0].description = "a | b\nc"
    text = write_report([journal], tmp_path).markdown.read_text()
    assert "<script>" not in text and "</script>" not in text
    assert "&lt;script>x&lt;/script>" in text
    assert "a \\| b c" in text
    assert "| < 0.05 |" in text, "an operator is not a tag and stays readable"
