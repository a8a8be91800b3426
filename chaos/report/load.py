"""Find the journals of a run: one file, or every journal in a run directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chaos.journal import Journal

_REQUIRED = ("name", "fallacy", "key_signal", "started_at")


def load_journals(path: Path) -> list[Journal]:
    """Journals from a journal file or a run directory, in fallacy order.

    A run directory may hold other JSON beside the journals (this report's own
    ``report.json``, a runner's manifest), so a directory's files that are not
    journal-shaped are skipped; a file that claims to be a journal but does not
    parse is an error naming the file, as is a directory with no journals.
    """
    if path.is_file():
        return [_read(path, _json(path))]
    if not path.is_dir():
        raise FileNotFoundError(f"no journal file or run directory at {path}")
    journals = []
    for file in sorted(path.glob("*.json")):
        data = _json(file)
        if isinstance(data, dict) and all(k in data for k in _REQUIRED):
            journals.append(_read(file, data))
    if not journals:
        raise FileNotFoundError(f"no experiment journals (*.json) in {path}")
    return sorted(journals, key=lambda j: (j.fallacy, j.name))


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not readable JSON: {exc}") from exc


def _read(path: Path, data: Any) -> Journal:
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a journal is a JSON object, got {type(data).__name__}")
    try:
        return Journal.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a valid journal: {exc!r}") from exc
