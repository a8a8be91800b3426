"""A journey as a waterfall: one row per step, DNS query, NTP query and HTTP request.

The workload records spans (``services/workload/trace.py``); a person reads rows, like
a browser's network panel: a request's connect, send, wait (to the first byte) and
body are segments of one bar. The report and the console draw the same rows::

    write                 ████████████████████████████████  1.01 s
      PUT /kv/naive-3     ·░▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒█  api-1 · HTTP 200

A step with many requests (the naive client's N+1) keeps its slowest ``MAX_REQUESTS``
and says how many it left out: every step is there, and its bar is its whole time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["HOPS", "MAX_REQUESTS", "Row", "Segment", "rows", "steps_total"]

HOPS: Final = ("connect", "send", "wait", "body")
"""A request's segments, in the order they happen."""
MAX_REQUESTS: Final = 8


@dataclass(frozen=True)
class Segment:
    kind: str
    start_s: float
    end_s: float


@dataclass
class Row:
    level: int
    """0: a step (or an NTP query, on its own loop); 1: a query or a request inside a step."""
    kind: str
    """``step``, ``dns``, ``ntp``, ``http`` or ``more`` (requests left out)."""
    name: str
    start_s: float
    end_s: float
    detail: str = ""
    segments: list[Segment] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "kind": self.kind,
            "name": self.name,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "duration_s": self.duration_s,
            "detail": self.detail,
            "segments": [
                {"kind": s.kind, "start_s": s.start_s, "end_s": s.end_s} for s in self.segments
            ],
        }


def _requests(spans: list[dict[str, Any]]) -> list[Row]:
    """A request's hops share its name and replica and follow one another."""
    open_rows: dict[tuple[str, str], Row] = {}
    found: list[Row] = []
    for span in sorted(spans, key=lambda s: (s["start_s"], HOPS.index(s["kind"]))):
        key = (span["name"], span["detail"])
        row = open_rows.get(key)
        done = {s.kind for s in row.segments} if row is not None else set()
        if row is None or span["kind"] in done or span["kind"] == "connect":
            row = Row(1, "http", span["name"], span["start_s"], span["end_s"], span["detail"])
            open_rows[key] = row
            found.append(row)
        row.segments.append(Segment(span["kind"], span["start_s"], span["end_s"]))
        row.start_s = min(row.start_s, span["start_s"])
        row.end_s = max(row.end_s, span["end_s"])
    return found


def rows(journey: dict[str, Any]) -> list[Row]:
    """The rows of one journey (a ``GET /journeys`` entry), in time order within steps."""
    spans: list[dict[str, Any]] = list(journey.get("spans", []))
    steps = [s for s in spans if s["kind"] == "step"]
    out: list[Row] = []
    placed: set[int] = set()
    for step in steps:
        out.append(Row(0, "step", step["name"], step["start_s"], step["end_s"]))
        inside = [
            (i, s)
            for i, s in enumerate(spans)
            if i not in placed
            and s["kind"] in ("dns", *HOPS)
            and step["start_s"] <= s["start_s"] < step["end_s"]
        ]
        placed.update(i for i, _ in inside)
        queries = [
            Row(1, "dns", s["name"], s["start_s"], s["end_s"], s["detail"])
            for _, s in inside
            if s["kind"] == "dns"
        ]
        requests = _requests([s for _, s in inside if s["kind"] in HOPS])
        kept = sorted(requests, key=lambda r: r.duration_s, reverse=True)[:MAX_REQUESTS]
        out += sorted([*queries, *kept], key=lambda r: r.start_s)
        if len(kept) < len(requests):
            left = [r for r in requests if r not in kept]
            out.append(
                Row(
                    1,
                    "more",
                    f"{len(left)} more requests, each shorter",
                    min(r.start_s for r in left),
                    max(r.end_s for r in left),
                )
            )
    for s in spans:
        if s["kind"] == "ntp":
            out.append(Row(0, "ntp", f"NTP {s['name']}", s["start_s"], s["end_s"], s["detail"]))
    return out


def steps_total(journey: dict[str, Any]) -> float:
    """The steps' time added up: the journey's duration, but for the moments between."""
    spans = journey.get("spans", [])
    return float(sum(s["end_s"] - s["start_s"] for s in spans if s["kind"] == "step"))
