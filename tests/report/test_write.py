from __future__ import annotations

from pathlib import Path

from chaos.report import write_report
from tests.report import factory


def test_rerun_of_the_same_experiment_gets_its_own_files(tmp_path: Path) -> None:
    first, second = factory.journal(), factory.journal()
    paths = write_report([first, second], tmp_path)
    html = paths.html.read_text()
    assert 'id="api-replica-loss"' in html and 'id="api-replica-loss-2"' in html
    assert len({p.name for p in paths.charts}) == len(paths.charts) == 8
    assert all(p.is_file() for p in paths.charts)


def test_writes_three_documents(tmp_path: Path) -> None:
    paths = write_report([factory.journal()], tmp_path / "nested" / "out")
    assert {p.name for p in (paths.html, paths.markdown, paths.json)} == {
        "report.html",
        "report.md",
        "report.json",
    }
    assert all(p.parent == paths.out_dir for p in (paths.html, paths.markdown, paths.json))
