"""The defence matrix: which defence keeps the resilient client whole against which fallacy.

What ``fallacies ablate`` (``chaos.runner.ablation``) writes and the report renders,
the way ``chaos.journal`` is for one run::

    Matrix
     ├── defences     the columns: name -> what the defence does
     └── rows         one per experiment
          ├── all_on  the run with every defence on: it must pass
          ├── cells   one per declared defence, run with only that defence off
          │    └── protected   each expectation it protects: value on, value off
          └── yours   with ``ablate --client``: per defence, whether a client of one's
                      own held what that defence protects, in the all-on run

A cell ``breaks`` when a protected expectation failed with its defence off, and
is *proven* when every protected expectation also held with all defences on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["CellVerdict", "Matrix", "Protected", "Row", "Verdict"]

Verdict = Literal["breaks", "holds", "error"]
"""``breaks``: a protected expectation failed with the defence off (the defence matters);
``holds``: every one still held (not proven); ``error``: the run could not judge."""


@dataclass(frozen=True)
class Protected:
    """One expectation a defence protects, as seen with every defence on and with it off."""

    description: str
    signal: str
    unit: str
    op: str
    threshold: float
    on: float | None
    off: float | None
    held_on: bool
    held_off: bool
    stuck_off_s: float = 0.0
    """With the defence off, the longest a journey ran in the window: a value of None
    with a journey running this long means the client finished nothing — it was stuck."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "stuck_off_s": self.stuck_off_s,
            "description": self.description,
            "signal": self.signal,
            "unit": self.unit,
            "op": self.op,
            "threshold": self.threshold,
            "on": self.on,
            "off": self.off,
            "held_on": self.held_on,
            "held_off": self.held_off,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Protected:
        return cls(**data)


@dataclass(frozen=True)
class CellVerdict:
    defence: str
    verdict: Verdict
    protected: tuple[Protected, ...]
    journal: str
    """The off run's journal, relative to the matrix's folder."""
    error: str | None = None

    @property
    def proven(self) -> bool:
        """Held with every defence on, broke with this one off."""
        return self.verdict == "breaks" and all(p.held_on for p in self.protected)

    def to_dict(self) -> dict[str, Any]:
        return {
            "defence": self.defence,
            "verdict": self.verdict,
            "proven": self.proven,
            "protected": [p.to_dict() for p in self.protected],
            "journal": self.journal,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellVerdict:
        return cls(
            defence=data["defence"],
            verdict=data["verdict"],
            protected=tuple(Protected.from_dict(p) for p in data["protected"]),
            journal=data["journal"],
            error=data.get("error"),
        )


@dataclass(frozen=True)
class Row:
    """One experiment: its all-on run and a verdict per declared defence."""

    name: str
    fallacy: int
    title: str
    all_on: str
    """The all-on run's status: ``passed``, or what went wrong."""
    all_on_journal: str
    failures: tuple[str, ...] = ()
    """What failed in the all-on run, one line each."""
    cells: tuple[CellVerdict, ...] = ()
    yours: dict[str, bool] = field(default_factory=dict)
    """Defence -> a client of one's own held every expectation it protects (all on)."""

    def cell(self, defence: str) -> CellVerdict | None:
        return next((c for c in self.cells if c.defence == defence), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fallacy": self.fallacy,
            "title": self.title,
            "all_on": self.all_on,
            "all_on_journal": self.all_on_journal,
            "failures": list(self.failures),
            "cells": [cell.to_dict() for cell in self.cells],
            "yours": dict(self.yours),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        return cls(
            name=data["name"],
            fallacy=int(data["fallacy"]),
            title=data["title"],
            all_on=data["all_on"],
            all_on_journal=data["all_on_journal"],
            failures=tuple(data.get("failures", ())),
            cells=tuple(CellVerdict.from_dict(c) for c in data.get("cells", ())),
            yours={str(k): bool(v) for k, v in data.get("yours", {}).items()},
        )


@dataclass
class Matrix:
    rows: list[Row] = field(default_factory=list)
    defences: dict[str, str] = field(default_factory=dict)
    """The columns, name -> what the defence does, in the order of the switches."""
    quick: bool = False
    jobs: int = 1
    yours: str | None = None
    """The label of a client of one's own that ran beside the two (``ablate --client``)."""
    started_at: str = ""
    duration_s: float = 0.0

    @property
    def problems(self) -> list[str]:
        """Why the matrix does not prove the claim, one line each; empty when it does."""
        found: list[str] = []
        for row in self.rows:
            if row.all_on != "passed":
                found.append(f"{row.name}: with every defence on, the run {row.all_on}")
                found.extend(f"{row.name}:   {line}" for line in row.failures)
            for cell in row.cells:
                if cell.verdict == "error":
                    found.append(f"{row.name}: {cell.defence} off: {cell.error}")
                elif cell.verdict == "holds":
                    held = "; ".join(p.description for p in cell.protected)
                    found.append(f"{row.name}: {cell.defence} off, still held: {held}")
                elif not cell.proven:
                    found.append(
                        f"{row.name}: {cell.defence} off broke it, but it failed with every "
                        "defence on too"
                    )
        return found

    @property
    def passed(self) -> bool:
        return bool(self.rows) and not self.problems

    @property
    def proven(self) -> int:
        return sum(cell.proven for row in self.rows for cell in row.cells)

    @property
    def cells(self) -> int:
        return sum(len(row.cells) for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "quick": self.quick,
            "jobs": self.jobs,
            "yours": self.yours,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "passed": self.passed,
            "proven": self.proven,
            "cells": self.cells,
            "problems": self.problems,
            "defences": dict(self.defences),
            "experiments": [row.to_dict() for row in self.rows],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Matrix:
        return cls(
            rows=[Row.from_dict(r) for r in data["experiments"]],
            defences=dict(data["defences"]),
            quick=bool(data.get("quick", False)),
            jobs=int(data.get("jobs", 1)),
            yours=data.get("yours"),
            started_at=data.get("started_at", ""),
            duration_s=float(data.get("duration_s", 0.0)),
        )

    @classmethod
    def read(cls, path: Path) -> Matrix:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
