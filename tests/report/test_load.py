from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.journal import Journal
from chaos.report import load_journals, write_report
from tests.report import factory


def _write_run(directory: Path, journals: list[Journal]) -> None:
    for journal in reversed(journals):
        journal.write(directory / f"{journal.name}.json")


def test_a_single_file(tmp_path: Path) -> None:
    journal = factory.journal()
    assert load_journals(journal.write(tmp_path / "j.json")) == [journal]


def test_a_run_directory_in_fallacy_order_skipping_other_json(tmp_path: Path) -> None:
    journals = [factory.journal(i) for i in (3, 0, 1)]
    _write_run(tmp_path, journals)
    (tmp_path / "manifest.json").write_text(json.dumps({"stamp": "x"}))
    write_report(journals, tmp_path)
    loaded = load_journals(tmp_path)
    assert [j.fallacy for j in loaded] == [1, 2, 4]
    assert loaded == sorted(journals, key=lambda j: j.fallacy)


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no experiment journals"):
        load_journals(tmp_path)
    with pytest.raises(FileNotFoundError, match="no journal file"):
        load_journals(tmp_path / "missing")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        load_journals(tmp_path)
    data = factory.journal().to_dict()
    del data["signals"]
    broken.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="broken.json: not a valid journal"):
        load_journals(tmp_path)
