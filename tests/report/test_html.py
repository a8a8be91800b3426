from __future__ import annotations

import base64
import re

from chaos.journal import Journal
from chaos.report import ReportPaths, charts, write_report
from tests.report import factory
from tests.report.conftest import png_size

DATA_URI = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def test_one_section_per_journal(run: list[Journal], page: str) -> None:
    ids = re.findall(r'<section class="experiment" id="([^"]+)"', page)
    assert len(ids) == len(run) == len(set(ids))
    for anchor in ids:
        assert f'href="#{anchor}"' in page


def test_every_chart_is_an_inline_png_of_sane_size(run: list[Journal], page: str) -> None:
    images = DATA_URI.findall(page)
    assert len(images) == sum(len(charts.chart_signals(j)) for j in run)
    for encoded in images:
        data = base64.b64decode(encoded, validate=True)
        width, height = png_size(data)
        assert 300 <= width <= 2000 and 150 <= height <= 800
        assert 2_000 < len(data) < 400_000


def test_page_needs_no_network(page: str) -> None:
    lowered = page.lower()
    for needle in ("http://", "https://", "<script", "<link", "@import", "url("):
        assert needle not in lowered
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)


def test_header_counts_and_summary_verdicts(page: str) -> None:
    assert "<h1>Synthetic run</h1>" in page
    assert "6 passed" in page and "1 failed" in page and "1 aborted" in page
    assert "fail 0/1" in page and "pass 1/1" in page and "no checks" in page


def test_journal_text_is_escaped(tmp_path) -> None:
    hostile = "<script>alert('x')</script> & <b>"
    journal = factory.journal(narration={"fallacy": hostile, "inject": "a\n\nb"})
    journal.title = hostile
    journal.faults[0].target = "<img src=x>"
    journal.error = hostile
    paths = write_report([journal], tmp_path)
    html = paths.html.read_text()
    assert "<script" not in html and "<b>" not in html and "<img src=x>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;" in html
    assert "<p>a</p><p>b</p>" in html


def test_aborted_journal_renders(report: ReportPaths, page: str) -> None:
    aborted = page.split('id="config-drift"')[1].split("</section>")[0]
    assert 'class="badge aborted"' in aborted
    assert "RuntimeError: proxy went away" in aborted and "&lt;step 3&gt;" in aborted
    assert "No expectations were evaluated." in aborted
    assert "still active" in aborted
    assert len(DATA_URI.findall(aborted)) == len(charts.chart_signals(factory.aborted()))


def test_empty_run_still_writes_a_page(tmp_path) -> None:
    paths = write_report([], tmp_path)
    assert "0 experiments" in paths.html.read_text()


def test_the_summary_gives_the_key_signal_of_both_clients_in_its_unit(tmp_path) -> None:
    stuck = factory.journal(0)
    stuck.key = {"naive": None, "resilient": 0.021}
    stuck.key_running_s = {"naive": 20.0, "resilient": 0.01}
    stuck.expectations[1].unit = "ratio"
    paths = write_report([stuck], tmp_path)
    page = paths.html.read_text()
    assert "stuck for 20 s" in page
    assert "2.1 %" in page  # resilient, in its unit
    assert "&lt; 5 %" in page  # the rule, in the unit too
    markdown = paths.markdown.read_text()
    assert "stuck for 20 s (pass 1/1)" in markdown
    assert "2.1 % (pass 1/1)" in markdown
