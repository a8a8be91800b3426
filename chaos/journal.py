"""The journal of an experiment run: what the runner writes and the report reads.

One JSON document per experiment run (``runs/<stamp>/<experiment>.json``). Times
are seconds since the run started (``t``), so charts need no clock arithmetic.

    Journal
     ├── experiment        name, title, fallacy, narration, key signal
     ├── faults            every fault applied: link/node, kind, start_s, end_s, reverted
     ├── samples           one per second: t, and per signal {naive, resilient}, plus
     │                     how long each client's running journey had been running
     ├── key               the key signal over the fault window, per client
     ├── steady_state      before / after: checks with observed value and verdict
     ├── expectations      during / after the fault, per client: observed vs threshold
     ├── journeys          a sample of journeys per client, hop by hop (a waterfall)
     ├── advisory          a client of one's own, judged by the resilient client's
     │                     expectations: shown, never failing the run
     └── rollbacks         every revert, with status
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal["passed", "failed", "aborted", "error"]
Client = str
"""``naive``, ``resilient``, or the label of a client of one's own (``run --client``)."""
Phase = Literal["before", "during", "after"]

CLIENT_LINES: tuple[str, ...] = ("naive", "resilient")
PROBE_LINE = "probes"
"""The one series of a run on one's own services: the share of probe calls passing."""
LINE_TITLES = {"naive": "Naive", "resilient": "Resilient", PROBE_LINE: "Probe calls passing"}


def line_title(line: str) -> str:
    """A column's title: a client of one's own is named as its class names itself."""
    return LINE_TITLES.get(line, f"Yours ({line})")


@dataclass
class Signal:
    """A named series the runner derives from the scraped metrics, per client."""

    name: str
    title: str
    unit: str
    """Display unit, e.g. ``ratio``, ``seconds``, ``bytes/s``, ``count``."""


@dataclass
class FaultRecord:
    kind: str
    target: str
    """A link (``api-1``), a node (``ntp-a``) or a DNS name, as the experiment named it."""
    start_s: float
    end_s: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    reverted: bool = False
    error: str | None = None
    units: dict[str, str] = field(default_factory=dict)
    """Attribute -> unit (``latency`` -> ``ms``), for people reading the attributes."""
    skipped: str | None = None
    """Why it was not applied on this mesh (an HTTP toxic on a link Toxiproxy carries)."""


@dataclass
class Check:
    """One steady-state check or expectation, with what was seen."""

    description: str
    phase: Phase
    client: Client | None
    metric: str
    op: str
    threshold: float
    observed: float | None
    passed: bool
    detail: str = ""
    unit: str = ""
    """The signal's unit (``seconds``, ``ratio`` ...), to read ``threshold`` and ``observed``."""
    running_s: float = 0.0
    """The longest a journey of the client had been running within the window: with no
    value observed, a client that finished nothing because it is stuck."""


@dataclass
class Sample:
    t: float
    values: dict[str, dict[str, float | None]]
    """signal name -> client -> value (None when not computable yet)."""
    running_s: dict[str, float | None] = field(default_factory=dict)
    """client -> how long its journey running then had been running (0: none running).
    A value of None with a journey running longer than the chart's window means the
    client finished nothing lately: it is stuck, not missing."""


@dataclass
class Rollback:
    action: str
    status: Literal["ok", "failed", "skipped"]
    detail: str = ""


@dataclass
class Journal:
    name: str
    title: str
    fallacy: int
    fallacy_name: str
    narration: dict[str, str]
    """Keys: ``fallacy``, ``inject``, ``watch``, ``pattern`` (workshop narration)."""
    key_signal: Signal
    signals: list[Signal]
    started_at: str
    """ISO 8601 UTC."""
    duration_s: float = 0.0
    quick: bool = False
    target: str = "embedded"
    window_s: float = 3.0
    """The sliding window every sample's values are computed over, seconds."""
    status: Status = "error"
    faults: list[FaultRecord] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    steady_state: list[Check] = field(default_factory=list)
    expectations: list[Check] = field(default_factory=list)
    rollbacks: list[Rollback] = field(default_factory=list)
    error: str | None = None
    key: dict[str, float | None] = field(default_factory=dict)
    """client -> the key signal over the fault ("during") window, whatever the checks."""
    key_running_s: dict[str, float] = field(default_factory=dict)
    """client -> the longest a journey had been running within that window."""
    clients: list[str] = field(default_factory=lambda: list(CLIENT_LINES))
    """The clients that ran: the two, and a third of one's own (``run --client``)."""
    advisory: list[Check] = field(default_factory=list)
    journeys: list[dict[str, Any]] = field(default_factory=list)
    """A sample of journeys hop by hop, per client (``chaos.runner.journeys``): each with
    ``client``, ``role``, ``t`` (its start, run seconds), ``duration_s``, ``outcome``,
    ``spans`` (``kind``, ``name``, ``start_s``, ``end_s``, ``detail``)."""

    @property
    def own(self) -> bool:
        """A run on one's own services (``fallacy`` 0): probes, no clients."""
        return self.fallacy == 0

    @property
    def lines(self) -> tuple[str, ...]:
        """The series its samples hold and its charts draw: the clients, or the probes."""
        return (PROBE_LINE,) if self.own else tuple(self.clients)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Journal:
        return cls(
            name=data["name"],
            title=data["title"],
            fallacy=int(data["fallacy"]),
            fallacy_name=data["fallacy_name"],
            narration=dict(data["narration"]),
            key_signal=Signal(**data["key_signal"]),
            signals=[Signal(**s) for s in data["signals"]],
            started_at=data["started_at"],
            duration_s=float(data.get("duration_s", 0.0)),
            quick=bool(data.get("quick", False)),
            target=data.get("target", "embedded"),
            window_s=float(data.get("window_s", 3.0)),
            status=data.get("status", "error"),
            faults=[FaultRecord(**f) for f in data.get("faults", [])],
            samples=[Sample(**s) for s in data.get("samples", [])],
            steady_state=[Check(**c) for c in data.get("steady_state", [])],
            expectations=[Check(**c) for c in data.get("expectations", [])],
            rollbacks=[Rollback(**r) for r in data.get("rollbacks", [])],
            error=data.get("error"),
            key=dict(data.get("key", {})),
            key_running_s=dict(data.get("key_running_s", {})),
            clients=list(data.get("clients", CLIENT_LINES)),
            advisory=[Check(**c) for c in data.get("advisory", [])],
            journeys=list(data.get("journeys", [])),
        )

    @classmethod
    def read(cls, path: Path) -> Journal:
        return cls.from_dict(json.loads(path.read_text()))
