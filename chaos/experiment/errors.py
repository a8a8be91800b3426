"""What a rejected experiment file looks like: every problem, each pointing at a line.

ValueError
 └── ExperimentError      one or more files are wrong; ``problems`` lists each one
      problems: [Problem]  FILE:LINE: FIELD: message

The message is one problem per line in the shape compilers use, so editors and CI
logs make each line clickable, and an author fixes the whole file in one pass
instead of one error per run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.common.errors import FallaciesError

__all__ = ["ExperimentError", "Problem"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field of one experiment file."""

    file: str
    """The path as the caller gave it (so it reads the way the user typed it)."""
    line: int | None
    """1-based line in ``file``; ``None`` when there is no line (an unreadable file)."""
    field: str
    """Dotted/indexed path: ``method[0].attributes.latency``; ``document`` for the whole file."""
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}"


class ExperimentError(FallaciesError, ValueError):
    """Raised once per load with *every* problem found, never just the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(
            sorted(problems, key=lambda p: (p.file, p.line or 0))
        )
        super().__init__("\n".join(str(problem) for problem in self.problems))
