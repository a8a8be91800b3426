"""Charts: one signal of one experiment, naive vs resilient over time, faults shaded.

Built on ``matplotlib.figure.Figure`` with an explicit Agg canvas, never pyplot, so
rendering touches no global figure registry and needs no display. Style lives in
``_RC`` and is applied with ``rc_context`` only while a chart is built and drawn.

::

    Journey success ratio                     ── naive ── resilient ▒ fault
    100 % ┤        ▒▒▒▒▒▒▒▒▒ latency@api-1 1500 ms
          │─────────▒───────▒──── ─ ─ resilient ≥ 95 %  (an expectation)
      0 % ┼───╯    ▒▓▓▓▓▓▓▓▒──────  ▓ naive: no journey finished, one running 9 s
          0        12      27   seconds since start

A client with no value while a journey of its has been running longer than the
window is stuck, not missing: a hatched bar in its colour says so, so a failing
client never hides behind a gap. Values read in their unit (ms, KB, %), latency on
a log scale when the two clients differ more than tenfold, and each expectation on
the signal is drawn as its threshold.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import blended_transform_factory
from matplotlib.typing import RcKeyType

from chaos.journal import PROBE_LINE, Client, FaultRecord, Journal, Signal
from chaos.report import _text
from chaos.signals.units import show

COLOURS: dict[str, str] = {"naive": "#d9480f", "resilient": "#1971c2", PROBE_LINE: "#2f9e44"}
"""Warm for the client expected to break, cool for the one expected to hold; green for
the probes of a run on one's own services."""
LABELS: dict[str, str] = {
    "naive": "naive",
    "resilient": "resilient",
    PROBE_LINE: "probe calls passing",
}
"""Each line's name in a legend."""
OWN_COLOUR = "#7048e8"
"""A client of one's own (``run --client``): neither warm nor cool, it is yet to be seen."""


def colour(line: str) -> str:
    return COLOURS.get(line, OWN_COLOUR)


def label(line: str) -> str:
    return LABELS.get(line, f"yours ({line})")


FAULT_COLOUR = "#868e96"
MAX_OTHER_SIGNALS = 3
THRESHOLD_COLOUR = "#495057"
"""Expectations for both clients; one client's are drawn in its colour."""
LOG_SCALE_RATIO = 10.0
"""Latency is drawn on a log scale when one client's peak is this many times the other's."""
_SCALED_UNITS = frozenset({"seconds", "bytes", "bytes/s", "ratio", "dollars"})

_RC: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.edgecolor": "#adb5bd",
    "axes.labelcolor": "#343a40",
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "xtick.color": "#495057",
    "ytick.color": "#495057",
    "axes.grid": True,
    "grid.color": "#e9ecef",
    "grid.linewidth": 0.8,
}
_DPI = 120
_KEY_SIZE = (10.0, 3.2)
"""Inches: shown about 1000 px wide, so 9 pt text reads at roughly 12 px."""
_OTHER_SIZE = (4.2, 2.5)
"""Inches: shown three across, about 330 px each."""


@dataclass(frozen=True)
class FaultSpan:
    """Where a fault is shaded: ``end`` is the last sample for a fault still active."""

    start: float
    end: float
    label: str
    active: bool


@dataclass
class Chart:
    """A built, undrawn chart; ``spans`` are the shaded fault windows, in fault order."""

    figure: Figure
    axes: Axes
    spans: list[Rectangle]


def chart_signals(journal: Journal) -> list[Signal]:
    """The key signal first, then a few others: enough to explain, not to drown."""
    others = [s for s in journal.signals if s.name != journal.key_signal.name]
    unique = {s.name: s for s in others}
    return [journal.key_signal, *list(unique.values())[:MAX_OTHER_SIGNALS]]


def fault_spans(journal: Journal) -> list[FaultSpan]:
    """Each fault's window in seconds since start; an open fault runs to the last sample."""
    last = journal.samples[-1].t if journal.samples else journal.duration_s
    spans = []
    for fault in journal.faults:
        if fault.skipped is not None:
            continue
        end = fault.end_s if fault.end_s is not None else max(last, fault.start_s)
        spans.append(
            FaultSpan(
                start=fault.start_s,
                end=end,
                label=_fault_label(fault),
                active=fault.end_s is None,
            )
        )
    return spans


def series(journal: Journal, signal: str, client: str) -> tuple[list[float], list[float]]:
    """x and y for one client; missing or None values become NaN so the line breaks."""
    xs: list[float] = []
    ys: list[float] = []
    for sample in journal.samples:
        value = sample.values.get(signal, {}).get(client)
        xs.append(sample.t)
        ys.append(math.nan if value is None else float(value))
    return xs, ys


@dataclass(frozen=True)
class Stall:
    """A stretch where a client had no value because its journey would not finish."""

    start: float
    end: float
    running_s: float
    """The longest its journey had been running in the stretch."""


def stalls(journal: Journal, signal: str, client: str) -> list[Stall]:
    """Stretches of samples with no value and a journey running longer than the window."""
    found: list[Stall] = []
    for sample in journal.samples:
        value = sample.values.get(signal, {}).get(client)
        running = sample.running_s.get(client) or 0.0
        if value is not None or running < journal.window_s:
            continue
        last = found[-1] if found else None
        if last is not None and sample.t - last.end <= 1.5:
            found[-1] = Stall(last.start, sample.t, max(last.running_s, running))
        else:
            found.append(Stall(sample.t, sample.t, running))
    return found


@dataclass(frozen=True)
class Threshold:
    value: float
    op: str
    client: Client | None
    """None: the expectation is on both clients."""

    @property
    def colour(self) -> str:
        return THRESHOLD_COLOUR if self.client is None else colour(self.client)


def thresholds(journal: Journal, signal: str) -> list[Threshold]:
    """The expectations on ``signal``: one line per threshold, per client or for both."""
    seen: dict[tuple[float, str], set[Client]] = {}
    for check in journal.expectations:
        if check.metric == signal and check.client is not None:
            seen.setdefault((check.threshold, check.op), set()).add(check.client)
    return [
        Threshold(value, op, None if len(clients) > 1 else next(iter(clients)))
        for (value, op), clients in seen.items()
    ]


def build_chart(journal: Journal, signal: Signal, *, key: bool = False) -> Chart:
    """Build (but do not draw) the chart of one signal; see the module docstring."""
    with _style():
        figure = Figure(figsize=_KEY_SIZE if key else _OTHER_SIZE, dpi=_DPI, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        spans = _shade_faults(axes, fault_spans(journal), labelled=key)
        finite = _plot_clients(axes, journal, signal.name)
        lines = thresholds(journal, signal.name)
        _frame(axes, journal, signal, finite + [t.value for t in lines], key=key)
        _draw_thresholds(axes, lines, signal.unit)
        _draw_stalls(axes, journal, signal.name)
    return Chart(figure=figure, axes=axes, spans=spans)


def render_png(chart: Chart) -> bytes:
    """PNG bytes of a built chart."""
    buffer = io.BytesIO()
    with _style():
        chart.figure.savefig(buffer, format="png", dpi=_DPI, facecolor="white")
    return buffer.getvalue()


def chart_png(journal: Journal, signal: Signal, *, key: bool = False) -> bytes:
    """Build and render in one step: what the report writer needs."""
    return render_png(build_chart(journal, signal, key=key))


@contextmanager
def _style() -> Iterator[None]:
    with matplotlib.rc_context(_RC):
        yield


def _fault_label(fault: FaultRecord) -> str:
    label = f"{fault.kind}@{fault.target}"
    if fault.attributes:
        label += f" {_text.attributes(fault)}"
    if fault.error is not None:
        return f"{label} (failed)"
    if fault.end_s is None:
        return f"{label} (active)"
    return label


def _shade_faults(
    axes: Axes, spans: Sequence[FaultSpan], *, labelled: bool = True
) -> list[Rectangle]:
    """Shade every fault window; the key chart names them (the small ones have no room)."""
    labels = blended_transform_factory(axes.transData, axes.transAxes)
    artists = []
    for index, span in enumerate(spans):
        artist = axes.axvspan(
            span.start,
            span.end,
            facecolor=FAULT_COLOUR,
            alpha=0.22,
            edgecolor=FAULT_COLOUR,
            linewidth=0.8,
            hatch="//" if span.active else None,
            label="fault" if index == 0 else "_nolegend_",
            zorder=0,
        )
        artists.append(artist)
        if not labelled:
            continue
        axes.text(
            span.start,
            0.96 - 0.11 * (index % 4),
            f" {span.label}",
            transform=labels,
            fontsize=7.5,
            color="#343a40",
            va="top",
            ha="left",
            clip_on=True,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1.0},
            zorder=3,
        )
    return artists


def _plot_clients(axes: Axes, journal: Journal, signal: str) -> list[float]:
    finite: list[float] = []
    for client in journal.lines:
        xs, ys = series(journal, signal, client)
        hue = colour(client)
        axes.plot(xs, ys, color=hue, linewidth=1.6, label=label(client), zorder=2)
        lone = [
            (x, y)
            for i, (x, y) in enumerate(zip(xs, ys, strict=True))
            if not math.isnan(y) and _gap(ys, i - 1) and _gap(ys, i + 1)
        ]
        if lone:
            axes.plot(*zip(*lone, strict=True), "o", color=hue, markersize=3, zorder=2)
        finite.extend(y for y in ys if not math.isnan(y))
    return finite


def _draw_thresholds(axes: Axes, lines: Sequence[Threshold], unit: str) -> None:
    edge = blended_transform_factory(axes.transAxes, axes.transData)
    for line in lines:
        axes.axhline(line.value, color=line.colour, linestyle=(0, (4, 3)), linewidth=1.0, zorder=1)
        who = "both" if line.client is None else line.client
        axes.text(
            0.995,
            line.value,
            f"{who} {line.op} {show(line.value, unit)} ",
            transform=edge,
            fontsize=7,
            color=line.colour,
            ha="right",
            va="bottom",
            clip_on=True,
            zorder=3,
        )


def _draw_stalls(axes: Axes, journal: Journal, signal: str) -> None:
    for index, client in enumerate(journal.lines):
        runs = stalls(journal, signal, client)
        hue = colour(client)
        for number, run in enumerate(runs):
            axes.axvspan(
                run.start - 0.5,
                run.end + 0.5,
                ymin=0.0 + 0.06 * index,
                ymax=0.06 + 0.06 * index,
                facecolor=hue,
                edgecolor=hue,
                alpha=0.55,
                hatch="xx",
                linewidth=0.0,
                label=f"{client}: no journey finished" if number == 0 else "_nolegend_",
                zorder=2,
            )
        if runs:
            longest = max(run.running_s for run in runs)
            late = runs[0].start > sum(axes.get_xlim()) / 2
            axes.text(
                runs[-1].end if late else runs[0].start,
                0.07 + 0.06 * index,
                f" {client}: no journey finished (one running {longest:.0f} s) ",
                transform=blended_transform_factory(axes.transData, axes.transAxes),
                fontsize=7.5,
                color=hue,
                va="bottom",
                ha="right" if late else "left",
                clip_on=True,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1.0},
                zorder=3,
            )


def _log_scale(journal: Journal, signal: Signal) -> bool:
    """Latency whose clients differ more than tenfold: a log scale shows both lines."""
    if signal.unit != "seconds":
        return False
    peaks = []
    for client in journal.lines:
        _, ys = series(journal, signal.name, client)
        finite = [y for y in ys if not math.isnan(y) and y > 0]
        if not finite:
            return False
        peaks.append(max(finite))
    return max(peaks) / min(peaks) > LOG_SCALE_RATIO


def _gap(ys: Sequence[float], index: int) -> bool:
    return index < 0 or index >= len(ys) or math.isnan(ys[index])


def _frame(axes: Axes, journal: Journal, signal: Signal, finite: list[float], *, key: bool) -> None:
    spans = fault_spans(journal)
    times = [s.t for s in journal.samples]
    lo = min([0.0, *times])
    hi = max([*times, *(s.end for s in spans), journal.duration_s, lo + 1.0])
    if any(s.start >= hi for s in spans):
        hi += max(1.0, 0.1 * (hi - lo))
    axes.set_xlim(lo, hi)
    if not finite:
        axes.set_ylim(0.0, 1.0)
        axes.text(0.5, 0.5, "no data", transform=axes.transAxes, ha="center", color="#868e96")
    elif _log_scale(journal, signal):
        positive = [y for y in finite if y > 0]
        axes.set_yscale("log")
        axes.set_ylim(min(positive) / 2, max(positive) * 2)
    elif min(finite) >= 0.0:
        top = max(finite)
        axes.set_ylim(0.0, top * 1.15 if top > 0 else 1.0)
    if signal.unit in _SCALED_UNITS:
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: show(v, signal.unit)))
        axes.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    axes.set_xlabel("seconds since start")
    axes.set_ylabel(signal.unit + (" (log scale)" if axes.get_yscale() == "log" else ""))
    axes.set_title(signal.title + (" · key signal" if key else ""), loc="left")
    if key:
        axes.legend(
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncols=3,
            frameon=False,
            borderaxespad=0.2,
            fontsize=8,
        )
