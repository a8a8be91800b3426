"""The journey of a request, hop by hop: where one journey's time went, as spans.

    journey 1.204 s  ok
    ├─ step resolve   0.000 ─ 0.003   dns udp SRV 0.001, dns udp A 0.001
    ├─ step write     0.003 ─ 1.010   connect 0.001, send 0.000, wait 1.004, body 0.000
    ├─ step catalog   ...
    └─ step items     ...

The histograms (``hop_duration``) say how hops behave in aggregate; a trace says what
happened to *one* journey, which is what a room can follow. Every journey is traced
(a few dozen small records) and the last ``KEPT`` per client are kept. The steps run
one after another, so their spans add up to the journey's duration; the hops inside
a step may overlap (a hedge races its primary). The spans are found through a
context variable: tasks a journey starts (hedges) inherit it, and the clock-sync loop,
which runs beside the journeys, keeps a trace of its own from which a journey copies
the NTP queries that overlapped it.
"""

from __future__ import annotations

import contextvars
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["KEPT", "Journeys", "Span", "Trace", "active", "record", "span", "tracing"]

KEPT: Final = 30
"""Journeys kept per client: about the last half-minute at the quick pace."""
CLOCK_SPANS: Final = 200
"""NTP queries kept at most while no journey ends (a stuck client)."""


@dataclass(frozen=True, slots=True)
class Span:
    kind: str
    """``step``, ``dns``, ``connect``, ``send``, ``wait``, ``body`` or ``ntp``."""
    name: str
    """The step, the query (``SRV _api._tcp...``), the request (``GET /catalog``)."""
    start: float
    end: float
    detail: str = ""
    """Transport (``udp``/``tcp``), replica, status or error."""


@dataclass
class Trace:
    started: float = field(default_factory=time.perf_counter)
    started_at: float = field(default_factory=time.time)
    """Wall clock, so a reader can place the journey on a run's timeline."""
    spans: list[Span] = field(default_factory=list)
    duration_s: float | None = None
    outcome: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "outcome": self.outcome,
            "spans": [
                {
                    "kind": s.kind,
                    "name": s.name,
                    "start_s": round(s.start - self.started, 6),
                    "end_s": round(s.end - self.started, 6),
                    "detail": s.detail,
                }
                for s in sorted(self.spans, key=lambda s: s.start)
            ],
        }


_ACTIVE: contextvars.ContextVar[Trace | None] = contextvars.ContextVar("journey", default=None)


def active() -> Trace | None:
    return _ACTIVE.get()


def record(kind: str, name: str, start: float, end: float, detail: str = "") -> None:
    """Add a span to the journey (or clock-sync loop) this code runs in, if any."""
    trace = _ACTIVE.get()
    if trace is not None:
        trace.spans.append(Span(kind, name, start, end, detail))


@contextmanager
def span(kind: str, name: str, detail: str = "") -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        record(kind, name, started, time.perf_counter(), detail)


@contextmanager
def tracing(trace: Trace) -> Iterator[Trace]:
    token = _ACTIVE.set(trace)
    try:
        yield trace
    finally:
        _ACTIVE.reset(token)


class Journeys:
    """One client's recent journeys, and the NTP queries of its clock-sync loop."""

    def __init__(self, kept: int = KEPT) -> None:
        self.finished: deque[Trace] = deque(maxlen=kept)
        self.clock = Trace()
        """The clock-sync loop's spans: its NTP queries, trimmed to the journeys kept."""

    def done(self, trace: Trace, duration_s: float, outcome: str) -> None:
        trace.duration_s, trace.outcome = duration_s, outcome
        end = trace.started + duration_s
        trace.spans += [s for s in self.clock.spans if s.end > trace.started and s.start < end]
        self.finished.append(trace)
        oldest = self.finished[0].started
        self.clock.spans = [s for s in self.clock.spans if s.end >= oldest][-CLOCK_SPANS:]

    def synced(self) -> None:
        """After each clock sync: bounded even when no journey ends to trim it."""
        del self.clock.spans[:-CLOCK_SPANS]

    def to_list(self) -> list[dict[str, Any]]:
        return [trace.to_dict() for trace in self.finished]
