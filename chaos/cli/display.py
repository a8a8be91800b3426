"""Live progress while experiments run, and the summary table at the end."""

from __future__ import annotations

from collections import deque

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from chaos.experiment.model import Experiment
from chaos.journal import Journal
from chaos.runner.events import Handler

STATUS_STYLE = {"passed": "green", "failed": "red", "aborted": "yellow", "error": "red"}


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if value != 0 and (abs(value) >= 10000 or abs(value) < 0.01):
        return f"{value:.3g}"
    return f"{value:.3f}".rstrip("0").rstrip(".")


class LiveDisplay(Handler):
    """One panel: experiment, phase, time left, the key signal for naive vs resilient."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live: Live | None = None
        self.experiment: Experiment | None = None
        self.header = ""
        self.phase_name = "starting"
        self.remaining = 0.0
        self.key: dict[str, float | None] = {}
        self.events: deque[str] = deque(maxlen=4)

    def _ensure_live(self) -> Live:
        if self.live is None:
            self.live = Live(
                self._render(), console=self.console, refresh_per_second=4, transient=True
            )
            self.live.start()
        return self.live

    def _render(self) -> Panel:
        exp = self.experiment
        if exp is None:
            return Panel("starting…")
        signal = Table.grid(padding=(0, 2))
        signal.add_row(
            Text(exp.key_signal, style="bold"),
            Text(f"naive {_fmt(self.key.get('naive'))}", style="dark_orange"),
            Text(f"resilient {_fmt(self.key.get('resilient'))}", style="blue"),
        )
        lines: list[RenderableType] = [
            Text(f"phase {self.phase_name} · {self.remaining:4.0f} s left"),
            signal,
            *(Text(event, style="dim") for event in self.events),
        ]
        return Panel(Group(*lines), title=self.header, title_align="left")

    def _refresh(self) -> None:
        self._ensure_live().update(self._render())

    def experiment_started(self, experiment: Experiment, index: int, total: int) -> None:
        self.experiment = experiment
        self.header = f"{index}/{total} · fallacy {experiment.fallacy}: {experiment.title}"
        self.key = {}
        self.events.clear()
        self._refresh()

    def phase(self, experiment: Experiment, phase: str, remaining_s: float) -> None:
        self.phase_name, self.remaining = phase, remaining_s
        self._refresh()

    def sample(
        self,
        experiment: Experiment,
        t: float,
        phase: str,
        remaining_s: float,
        key: dict[str, float | None],
    ) -> None:
        self.phase_name, self.remaining, self.key = phase, remaining_s, key
        self._refresh()

    def fault(self, experiment: Experiment, action: str, description: str) -> None:
        self.events.append(f"{action}: {description}")
        self._refresh()

    def experiment_finished(self, journal: Journal) -> None:
        self.pause()
        style = STATUS_STYLE.get(journal.status, "white")
        self.console.print(
            f"[{style}]{journal.status:>7}[/] fallacy {journal.fallacy} · {journal.title}"
            f" ({journal.duration_s:.0f} s)" + (f" — {journal.error}" if journal.error else "")
        )
        for check in journal.expectations:
            if not check.passed:
                self.console.print(
                    f"         [red]✗[/] {check.client} {check.phase}: {check.description} "
                    f"({check.metric} {_fmt(check.observed)} {check.op} {check.threshold:g})"
                )

    def pause(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def stop(self) -> None:
        self.pause()


def _verdict(journal: Journal, client: str) -> str:
    checks = [c for c in journal.expectations if c.client == client]
    if not checks:
        return "—"
    ok = sum(c.passed for c in checks)
    style = "green" if ok == len(checks) else "red"
    return f"[{style}]{ok}/{len(checks)}[/]"


def _key_value(journal: Journal, client: str) -> str:
    for check in journal.expectations:
        if check.client == client and check.metric == journal.key_signal.name:
            return _fmt(check.observed)
    return "—"


def print_summary(console: Console, journals: list[Journal]) -> None:
    table = Table(title="fallacies: summary")
    for column in ("#", "experiment", "status", "key signal", "naive", "resilient", "checks n/r"):
        table.add_column(column)
    for j in journals:
        style = STATUS_STYLE.get(j.status, "white")
        table.add_row(
            str(j.fallacy),
            j.name,
            f"[{style}]{j.status}[/]",
            j.key_signal.name,
            _key_value(j, "naive"),
            _key_value(j, "resilient"),
            f"{_verdict(j, 'naive')} / {_verdict(j, 'resilient')}",
        )
    console.print(table)
    passed = sum(j.status == "passed" for j in journals)
    console.print(f"{passed}/{len(journals)} experiments passed")
