"""Charts: one signal of one experiment, naive vs resilient over time, faults shaded.

Built on ``matplotlib.figure.Figure`` with an explicit Agg canvas, never pyplot, so
rendering touches no global figure registry and needs no display. Style lives in
``_RC`` and is applied with ``rc_context`` only while a chart is built and drawn.

::

    Error ratio (ratio)                          ── naive ── resilient ▒ fault
      1 ┤        ▒▒▒▒▒▒▒▒▒ latency@api-1
        │   ╭────▒───╮   ▒
      0 ┼───╯    ▒   ╰───▒──────  (None values leave gaps)
        0        12      27   t (s)
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
from matplotlib.transforms import blended_transform_factory
from matplotlib.typing import RcKeyType

from chaos.journal import Client, FaultRecord, Journal, Signal

COLOURS: dict[Client, str] = {"naive": "#d9480f", "resilient": "#1971c2"}
"""Warm for the client expected to break, cool for the one expected to hold."""
FAULT_COLOUR = "#868e96"
MAX_OTHER_SIGNALS = 3

_CLIENTS: tuple[Client, ...] = ("naive", "resilient")
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


def series(journal: Journal, signal: str, client: Client) -> tuple[list[float], list[float]]:
    """x and y for one client; missing or None values become NaN so the line breaks."""
    xs: list[float] = []
    ys: list[float] = []
    for sample in journal.samples:
        value = sample.values.get(signal, {}).get(client)
        xs.append(sample.t)
        ys.append(math.nan if value is None else float(value))
    return xs, ys


def build_chart(journal: Journal, signal: Signal, *, key: bool = False) -> Chart:
    """Build (but do not draw) the chart of one signal; see the module docstring."""
    with _style():
        figure = Figure(figsize=_KEY_SIZE if key else _OTHER_SIZE, dpi=_DPI, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        spans = _shade_faults(axes, fault_spans(journal))
        finite = _plot_clients(axes, journal, signal.name)
        _frame(axes, journal, signal, finite, key=key)
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
    if fault.error is not None:
        return f"{label} (failed)"
    if fault.end_s is None:
        return f"{label} (active)"
    return label


def _shade_faults(axes: Axes, spans: Sequence[FaultSpan]) -> list[Rectangle]:
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
    for client in _CLIENTS:
        xs, ys = series(journal, signal, client)
        colour = COLOURS[client]
        axes.plot(xs, ys, color=colour, linewidth=1.6, label=client, zorder=2)
        lone = [
            (x, y)
            for i, (x, y) in enumerate(zip(xs, ys, strict=True))
            if not math.isnan(y) and _gap(ys, i - 1) and _gap(ys, i + 1)
        ]
        if lone:
            axes.plot(*zip(*lone, strict=True), "o", color=colour, markersize=3, zorder=2)
        finite.extend(y for y in ys if not math.isnan(y))
    return finite


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
    elif min(finite) >= 0.0:
        top = max(finite)
        axes.set_ylim(0.0, top * 1.1 if top > 0 else 1.0)
    axes.set_xlabel("seconds since start")
    axes.set_ylabel(signal.unit)
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
