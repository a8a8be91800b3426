"""Files and directories of experiments: reading, parsing, and names unique across files."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from chaos.experiment.errors import Problem
from chaos.experiment.model import Experiment
from chaos.experiments import EXPERIMENTS_DIR
from chaos.loader._document import TOP_REQUIRED, DocumentCheck
from chaos.loader._own import OwnDocumentCheck, is_own
from chaos.loader._registries import Registries
from chaos.loader.yamldoc import parse


def check_directory(
    directory: str | os.PathLike[str] | None,
    registries: Registries,
) -> tuple[list[Experiment], list[Problem]]:
    root = Path(directory) if directory is not None else EXPERIMENTS_DIR
    shown = os.fspath(directory) if directory is not None else os.fspath(EXPERIMENTS_DIR)
    if not root.is_dir():
        return [], [Problem(shown, None, "directory", "no such directory")]
    experiments: list[Experiment] = []
    problems: list[Problem] = []
    first_file: dict[str, str] = {}
    paths = sorted(
        path
        for path in root.iterdir()
        if path.suffix in (".yaml", ".yml") and path.is_file() and not path.name.startswith(".")
    )
    for path in paths:
        file = os.path.join(shown, path.name)
        experiment, found, name_line = check_file(path, file, registries)
        problems.extend(found)
        if experiment is None:
            continue
        if experiment.name in first_file:
            problems.append(
                Problem(
                    file,
                    name_line,
                    "name",
                    f"{experiment.name!r} is the name of {first_file[experiment.name]} too",
                )
            )
            continue
        first_file[experiment.name] = file
        experiments.append(experiment)
    experiments.sort(key=lambda e: (e.fallacy, e.name))
    return experiments, problems


def check_file(
    path: Path, file: str, registries: Registries, links: Mapping[str, str] | None = None
) -> tuple[Experiment | None, list[Problem], int]:
    """The experiment (``None`` if anything is wrong), every problem, the name's line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(file, None, "file", f"not UTF-8 text (byte offset {exc.start})")], 1
    except OSError as exc:
        return None, [Problem(file, None, "file", f"cannot read: {exc.strerror or exc}")], 1
    document, yaml_problems = parse(text)
    problems = [Problem(file, p.line, p.field, p.message) for p in yaml_problems]
    if document is None or document.value is None:  # `---` alone is a null document
        if not problems:
            required = ", ".join(TOP_REQUIRED)
            problems.append(
                Problem(file, 1, "document", f"the file is empty; an experiment needs {required}")
            )
        return None, problems, 1
    check = (
        OwnDocumentCheck(file, document, registries, links)
        if is_own(document.value)
        else DocumentCheck(file, document, registries)
    )
    experiment = check.experiment(path.stem, path)
    problems.extend(check.problems)
    name_line = document.lines.get("name", document.root_line)
    return (experiment if not problems else None), problems, name_line
