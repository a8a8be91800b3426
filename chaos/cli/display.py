"""Live progress while experiments run, and the summary table at the end."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from chaos.experiment.model import Experiment, FaultStep
from chaos.journal import PROBE_LINE, Journal
from chaos.matrix import Matrix
from chaos.runner.ablation import AblationHandler, Cell, protected_results
from chaos.runner.events import Handler
from chaos.signals.units import show, show_client

STATUS_STYLE = {"passed": "green", "failed": "red", "aborted": "yellow", "error": "red"}


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
        self.running: dict[str, float | None] = {}
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
        if exp.own:
            share = show(self.key.get(PROBE_LINE), "ratio")
            signal.add_row(Text("probe calls passing", style="bold"), Text(share))
        else:
            self._add_clients(signal, exp)
        lines: list[RenderableType] = [
            Text(f"phase {self.phase_name} · {self.remaining:4.0f} s left"),
            signal,
            *(Text(event, style="dim") for event in self.events),
        ]
        return Panel(Group(*lines), title=self.header, title_align="left")

    def _add_clients(self, signal: Table, exp: Experiment) -> None:
        unit = _unit(exp.key_signal)
        signal.add_row(
            Text(exp.key_signal, style="bold"),
            *(
                Text(
                    f"{client} {show_client(self.key.get(client), unit, self.running.get(client))}",
                    style=style,
                )
                for client, style in _styles(self.key)
            ),
        )

    def _refresh(self) -> None:
        self._ensure_live().update(self._render())

    def experiment_started(self, experiment: Experiment, index: int, total: int) -> None:
        self.experiment = experiment
        self.header = f"{index}/{total} · {_which(experiment.fallacy)}: {experiment.title}"
        self.key = {}
        self.running = {}
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
        running_s: dict[str, float | None] | None = None,
    ) -> None:
        self.phase_name, self.remaining, self.key = phase, remaining_s, key
        self.running = running_s or {}
        self._refresh()

    def fault(
        self,
        experiment: Experiment,
        action: str,
        description: str,
        step: FaultStep | None = None,
    ) -> None:
        self.events.append(f"{action}: {description}")
        self._refresh()

    def experiment_finished(self, journal: Journal) -> None:
        self.pause()
        style = STATUS_STYLE.get(journal.status, "white")
        self.console.print(
            f"[{style}]{journal.status:>7}[/] {_which(journal.fallacy)} · {journal.title}"
            f" ({journal.duration_s:.0f} s)" + (f" — {journal.error}" if journal.error else "")
        )
        shown = journal.steady_state + journal.expectations if journal.own else journal.expectations
        for check in shown:
            if not check.passed:
                threshold = show(check.threshold, check.unit)
                who = f"{check.client} " if check.client else ""
                self.console.print(
                    f"         [red]✗[/] {who}{check.phase}: {check.description} "
                    f"({check.metric} {show(check.observed, check.unit)}, "
                    f"wanted {check.op} {threshold})",
                    highlight=False,
                )

    def pause(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def stop(self) -> None:
        self.pause()


def _which(fallacy: int) -> str:
    return f"fallacy {fallacy}" if fallacy else "your services"


_STYLES = {"naive": "dark_orange", "resilient": "blue"}
"""A client of one's own is magenta here, as it is violet in the report."""


def _styles(clients: Iterable[str]) -> list[tuple[str, str]]:
    return [(c, _STYLES.get(c, "magenta")) for c in dict.fromkeys(["naive", "resilient", *clients])]


def _verdict(journal: Journal, client: str) -> str:
    checks = [c for c in [*journal.expectations, *journal.advisory] if c.client == client]
    if not checks:
        return "no checks"
    ok = sum(c.passed for c in checks)
    style = "green" if ok == len(checks) else "red"
    return f"[{style}]{ok}/{len(checks)}[/]"


def _key_value(journal: Journal, client: str) -> str:
    """The key signal over the fault window, in its unit: values the samples hold too."""
    value = journal.key.get(client)
    running = journal.key_running_s.get(client)
    return show_client(value, journal.key_signal.unit, running) if journal.key else "no data"


def print_summary(console: Console, journals: list[Journal], *, not_run: int = 0) -> None:
    """One row per experiment: the key signal during the fault, naive and resilient side
    by side with how many of each one's expectations held. Fits 80 columns. Those chosen
    but not run (``not_run``) are counted, so a stopped run never reads as complete."""
    if journals and all(j.own for j in journals):
        _print_checks(console, journals)
        return
    table = Table(title="fallacies: summary", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("experiment · key signal", max_width=28, overflow="fold")
    clients = _styles(c for j in journals for c in j.clients)
    for client, style in clients:
        table.add_column(client, justify="right", style=style)
    table.add_column("result")
    for j in journals:
        style = STATUS_STYLE.get(j.status, "white")
        table.add_row(
            str(j.fallacy),
            f"{j.name}\n[dim]{j.key_signal.title}[/]",
            *(f"{_key_value(j, c)}\n{_verdict(j, c)}" for c, _ in clients),
            f"[{style}]{j.status}[/]",
        )
    console.print(table, highlight=False)
    passed = sum(j.status == "passed" for j in journals)
    left = f"; {not_run} of {len(journals) + not_run} not run" if not_run else ""
    console.print(f"{passed}/{len(journals)} experiments passed{left}", highlight=False)


def _print_checks(console: Console, journals: list[Journal]) -> None:
    """An experiment on one's own services has no clients: one row per check."""
    for j in journals:
        table = Table(title=f"{j.name}: {j.status}", title_justify="left")
        for column in ("phase", "check", "calls passing", "wanted", ""):
            table.add_column(column)
        for check in [*j.steady_state, *j.expectations]:
            mark = "[green]✓[/]" if check.passed else "[red]✗[/]"
            table.add_row(
                check.phase,
                check.description,
                show(check.observed, check.unit),
                f"{check.op} {show(check.threshold, check.unit)}",
                mark,
            )
        console.print(table, highlight=False)
    passed = sum(j.status == "passed" for j in journals)
    console.print(f"{passed}/{len(journals)} experiments passed")


class AblationDisplay(AblationHandler):
    """The cells running now (live), and one line per cell as it finishes."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live: Live | None = None
        self.running: dict[tuple[str, str | None], tuple[Cell, int, str, float]] = {}
        self.total = 0
        self.done = 0

    def _render(self) -> Panel:
        grid = Table.grid(padding=(0, 2))
        for cell, index, phase, remaining in sorted(self.running.values(), key=_by_index):
            grid.add_row(
                f"{index}/{self.total}",
                f"fallacy {cell.experiment.fallacy} · {cell.experiment.name}",
                Text(cell.label, style="bold" if cell.defence else "green"),
                f"{phase} · {remaining:3.0f} s left",
            )
        return Panel(grid, title=f"ablation · {self.done}/{self.total} cells done")

    def _refresh(self) -> None:
        if self.live is None:
            self.live = Live(
                self._render(), console=self.console, refresh_per_second=2, transient=True
            )
            self.live.start()
        self.live.update(self._render())

    def cell_started(self, cell: Cell, index: int, total: int) -> None:
        self.total = total
        self.running[cell.key] = (cell, index, "starting a mesh", 0.0)
        self._refresh()

    def cell_progress(self, cell: Cell, phase: str, remaining_s: float) -> None:
        index = self.running.get(cell.key, (cell, 0, "", 0.0))[1]
        self.running[cell.key] = (cell, index, phase, remaining_s)
        self._refresh()

    def cell_finished(self, cell: Cell, journal: Journal) -> None:
        self.running.pop(cell.key, None)
        self.done += 1
        self.console.print(_cell_line(cell, journal))
        self._refresh()

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def _by_index(item: tuple[Cell, int, str, float]) -> int:
    return item[1]


def _cell_line(cell: Cell, journal: Journal) -> str:
    """What one cell showed, judged on its own run: all on passes; one off breaks its checks."""
    exp = cell.experiment
    head = f"fallacy {exp.fallacy} · {exp.name} · {cell.label}"
    if journal.status in ("error", "aborted"):
        return f"[red]   error[/] {head} — {journal.error}"
    if cell.defence is None:
        style = STATUS_STYLE.get(journal.status, "white")
        return f"[{style}]{journal.status:>8}[/] {head} ({journal.duration_s:.0f} s)"
    seen = protected_results(exp, cell.defence, journal)
    broke = [c for c in seen if not c.passed]
    if broke:
        values = ", ".join(
            f"{c.metric} {show_client(c.observed, c.unit, c.running_s)}" for c in broke
        )
        return f"[green]  breaks[/] {head}: {values}"
    return f"[red]   holds[/] {head}: what it protects did not fail"


def _unit(signal: str) -> str:
    from chaos.signals import SIGNALS

    return SIGNALS[signal].unit if signal in SIGNALS else ""


def print_matrix(console: Console, matrix: Matrix) -> None:
    """The matrix as lines (it has more columns than a terminal): one row per experiment."""
    console.rule("[bold]defence matrix")
    for row in matrix.rows:
        style = "green" if row.all_on == "passed" else "red"
        console.print(f"{row.fallacy} {row.name}  all on: [{style}]{row.all_on}[/]")
        for cell in row.cells:
            values = "; ".join(
                f"{show(p.on, p.unit)} → {show_client(p.off, p.unit, p.stuck_off_s)}"
                for p in cell.protected
            )
            if cell.proven:
                console.print(f"    [green]breaks[/] without {cell.defence}: {values}")
            elif cell.verdict == "error":
                console.print(f"    [red]error[/]  without {cell.defence}: {cell.error}")
            else:
                console.print(f"    [red]not proven[/] without {cell.defence}: {values}")
        if row.yours:
            said = ", ".join(
                f"[{'green' if held else 'red'}]{'holds' if held else 'fails'}[/] {defence}"
                for defence, held in row.yours.items()
            )
            console.print(f"    yours ({matrix.yours}), where a defence is needed: {said}")
    console.print(
        f"{matrix.proven}/{matrix.cells} defences proven in {matrix.duration_s:.0f} s"
        + ("" if matrix.passed else f"; {len(matrix.problems)} problems")
    )
