"""The report's summary: what ``report.json`` holds and both renderers tabulate.

A machine-readable digest of a run, so CI and the CLI can read outcomes without
parsing HTML: per experiment its status, the verdict per client, the expectations
with what was observed, and the files the report wrote.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from chaos.journal import CLIENT_LINES, PROBE_LINE, Check, Journal

SCHEMA = "fallacies.report/1"
STATUSES = ("passed", "failed", "aborted", "error")
CLIENTS: tuple[str, ...] = CLIENT_LINES

VerdictStatus = Literal["pass", "fail", "none"]


@dataclass(frozen=True)
class ChartRef:
    """A chart as the Markdown and JSON name it; ``file`` is relative to the report."""

    signal: str
    title: str
    unit: str
    key: bool
    file: str


@dataclass(frozen=True)
class Verdict:
    """How one client fared against its expectations; ``none`` when it had none."""

    met: int
    total: int
    status: VerdictStatus

    @classmethod
    def of(cls, expectations: list[Check], line: str) -> Verdict:
        """``line``: a client, or ``probes`` (every check of a run on one's own services)."""
        mine = [c for c in expectations if line == PROBE_LINE or c.client == line]
        met = sum(1 for c in mine if c.passed)
        status: VerdictStatus = "none" if not mine else "pass" if met == len(mine) else "fail"
        return cls(met=met, total=len(mine), status=status)


@dataclass
class ExperimentSummary:
    name: str
    title: str
    fallacy: int
    fallacy_name: str
    status: str
    started_at: str
    duration_s: float
    key_signal: str
    key_title: str
    key_unit: str
    key: dict[str, float | None]
    """client -> the key signal over the fault window."""
    key_running_s: dict[str, float]
    """client -> the longest a journey ran in that window (a stuck client has no value)."""
    window_s: float
    anchor: str
    """The HTML section id, so a summary row can link to its section."""
    verdicts: dict[str, Verdict]
    expectations: list[Check]
    charts: list[ChartRef]
    error: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentSummary:
        return cls(
            **{
                **data,
                "verdicts": {k: Verdict(**v) for k, v in data["verdicts"].items()},
                "expectations": [Check(**c) for c in data["expectations"]],
                "charts": [ChartRef(**c) for c in data["charts"]],
            }
        )


@dataclass
class Summary:
    title: str
    started_at: str
    counts: dict[str, int]
    """Experiments per status, plus ``total``."""
    files: dict[str, str]
    """``html``, ``markdown``, ``json`` -> file name, relative to the report."""
    experiments: list[ExperimentSummary] = field(default_factory=list)
    schema: str = SCHEMA

    @property
    def lines(self) -> tuple[str, ...]:
        """The columns a summary shows: the clients, and/or the probes of one's own runs."""
        seen = [line for e in self.experiments for line in e.verdicts]
        return tuple(dict.fromkeys(seen)) or CLIENTS

    @property
    def ok(self) -> bool:
        """True when every experiment passed: what a CI gate asks."""
        return self.counts["total"] > 0 and self.counts["passed"] == self.counts["total"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Summary:
        return cls(
            title=data["title"],
            started_at=data["started_at"],
            counts=dict(data["counts"]),
            files=dict(data["files"]),
            experiments=[ExperimentSummary.from_dict(e) for e in data["experiments"]],
            schema=data.get("schema", SCHEMA),
        )


def build_summary(
    journals: list[Journal],
    charts: list[list[ChartRef]],
    anchors: list[str],
    *,
    title: str,
    files: dict[str, str],
) -> Summary:
    """Summarise journals; ``charts`` and ``anchors`` are parallel to ``journals``."""
    counts = {status: sum(1 for j in journals if j.status == status) for status in STATUSES}
    counts["total"] = len(journals)
    return Summary(
        title=title,
        started_at=min((j.started_at for j in journals), default=""),
        counts=counts,
        files=files,
        experiments=[
            ExperimentSummary(
                name=j.name,
                title=j.title,
                fallacy=j.fallacy,
                fallacy_name=j.fallacy_name,
                status=j.status,
                started_at=j.started_at,
                duration_s=j.duration_s,
                key_signal=j.key_signal.name,
                key_title=j.key_signal.title,
                key_unit=j.key_signal.unit,
                key=dict(j.key),
                key_running_s=dict(j.key_running_s),
                window_s=j.window_s,
                anchor=anchor,
                verdicts={
                    line: Verdict.of([*j.expectations, *j.advisory], line) for line in j.lines
                },
                expectations=[*j.expectations, *j.advisory],
                charts=refs,
                error=j.error,
            )
            for j, refs, anchor in zip(journals, charts, anchors, strict=True)
        ],
    )
