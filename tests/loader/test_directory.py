"""A directory of experiments: ordered for a workshop, all problems of all files at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.experiment import ExperimentError
from tests.loader.conftest import VALID, edit, line_of, load_directory, validate_directory


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_all_orders_by_fallacy_then_name_and_skips_other_files(tmp_path: Path) -> None:
    _write(tmp_path, "b.yaml", VALID)
    _write(tmp_path, "a.yml", VALID)
    _write(tmp_path, "first.yaml", edit(VALID, "fallacy: 2", "fallacy: 1"))
    _write(tmp_path, "README.md", "not an experiment")
    _write(tmp_path, ".draft.yaml", "title: [unfinished")

    experiments = load_directory(tmp_path)

    assert [(e.fallacy, e.name) for e in experiments] == [(1, "first"), (2, "a"), (2, "b")]
    assert validate_directory(tmp_path) == []


def test_problems_of_every_file_in_one_error(tmp_path: Path) -> None:
    _write(tmp_path, "good.yaml", VALID)
    one = _write(tmp_path, "one.yaml", edit(VALID, "fallacy: 2", "fallacy: 0"))
    two = _write(tmp_path, "two.yaml", edit(VALID, "duration: 20s", "duration: 20x"))

    with pytest.raises(ExperimentError) as caught:
        load_directory(tmp_path)

    assert [(p.file, p.line, p.field) for p in caught.value.problems] == [
        (str(one), 2, "fallacy"),
        (str(two), line_of(VALID, "duration: 20s"), "method[0].duration"),
    ]
    assert validate_directory(tmp_path) == list(caught.value.problems)


def test_two_files_with_one_name(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", edit(VALID, "fallacy: 2\n", "fallacy: 2\nname: same\n"))
    b = _write(tmp_path, "b.yaml", edit(VALID, "fallacy: 2\n", "fallacy: 2\nname: same\n"))

    [problem] = validate_directory(tmp_path)

    assert (problem.file, problem.line, problem.field) == (str(b), 3, "name")
    assert problem.message == f"'same' is the name of {tmp_path / 'a.yaml'} too"


def test_missing_directory(tmp_path: Path) -> None:
    [problem] = validate_directory(tmp_path / "nope")
    assert str(problem) == f"{tmp_path / 'nope'}: directory: no such directory"
