from __future__ import annotations

import math
import subprocess
import sys

import matplotlib
import numpy as np

from chaos.journal import Journal
from chaos.report import charts
from tests.report import factory
from tests.report.conftest import png_size


def _pixel(chart: charts.Chart, x: float, y: float) -> tuple[int, ...]:
    """RGBA at data coordinates (x, y), read from the Agg canvas buffer."""
    canvas = chart.figure.canvas
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())  # type: ignore[attr-defined]
    px, py = chart.axes.transData.transform((x, y))
    row = rgba.shape[0] - int(round(py))
    return tuple(int(v) for v in rgba[row, int(round(px))])


def test_key_signal_first_then_at_most_three_others() -> None:
    journal = factory.journal()
    journal.signals = [journal.key_signal, *[factory.LATENCY] * 2, *factory.journal().signals]
    chosen = charts.chart_signals(journal)
    assert chosen[0] == journal.key_signal
    names = [s.name for s in chosen]
    assert len(names) == len(set(names)) <= 1 + charts.MAX_OTHER_SIGNALS


def test_span_extents_equal_the_fault_window() -> None:
    journal = factory.journal(fault=(20.0, 40.0))
    chart = charts.build_chart(journal, journal.key_signal, key=True)
    [span] = chart.spans
    assert (span.get_x(), span.get_x() + span.get_width()) == (20.0, 40.0)


def test_open_fault_is_shaded_to_the_last_sample() -> None:
    journal = factory.aborted()
    chart = charts.build_chart(journal, journal.key_signal)
    [span] = chart.spans
    assert span.get_x() == 12.0
    assert span.get_x() + span.get_width() == journal.samples[-1].t
    assert span.get_hatch() == "//"


def test_pixels_inside_the_window_are_shaded_and_outside_are_not() -> None:
    journal = factory.journal(fault=(20.0, 40.0))
    chart = charts.build_chart(journal, factory.EMPTY)
    inside, outside = _pixel(chart, 25.0, 0.3), _pixel(chart, 45.0, 0.3)
    assert outside[:3] == (255, 255, 255)
    assert inside != outside
    r, g, b, _ = inside
    assert max(r, g, b) - min(r, g, b) < 12, "the window is grey, not a client's colour"


def test_none_values_become_gaps() -> None:
    journal = factory.journal()
    xs, ys = charts.series(journal, factory.LATENCY.name, "resilient")
    gaps = [x for x, y in zip(xs, ys, strict=True) if math.isnan(y)]
    assert gaps == [0.0, 1.0, 17.0, 34.0, 51.0]
    chart = charts.build_chart(journal, factory.LATENCY)
    resilient = [line for line in chart.axes.lines if line.get_label() == "resilient"]
    assert np.isnan(np.asarray(resilient[0].get_ydata(), dtype=float)).sum() == len(gaps)


def test_clients_have_a_warm_and_a_cool_colour() -> None:
    journal = factory.journal()
    chart = charts.build_chart(journal, journal.key_signal, key=True)
    colours = {
        str(line.get_label()): matplotlib.colors.to_rgb(line.get_color())
        for line in chart.axes.lines
    }
    naive, resilient = colours["naive"], colours["resilient"]
    assert naive[0] > naive[2] and resilient[2] > resilient[0]
    assert chart.axes.get_ylabel() == journal.key_signal.unit


def test_empty_samples_and_all_none_signals_still_render() -> None:
    journal = factory.journal(fault=(5.0, None))
    journal.samples = []
    journal.duration_s = 0.0
    for signal in charts.chart_signals(journal):
        width, height = png_size(charts.chart_png(journal, signal))
        assert 300 < width < 2000 and 150 < height < 800
    chart = charts.build_chart(journal, journal.key_signal)
    assert chart.axes.get_xlim()[1] > 5.0, "a fault starting at the edge stays visible"
    all_none = factory.journal()
    assert png_size(charts.chart_png(all_none, factory.EMPTY))


def test_rendering_leaves_rc_params_and_pyplot_alone() -> None:
    before = dict(matplotlib.rcParams)
    charts.chart_png(factory.journal(), factory.ERRORS, key=True)
    assert dict(matplotlib.rcParams) == before
    code = (
        "import sys; from chaos.report import charts; from tests.report import factory; "
        "charts.chart_png(factory.journal(), factory.ERRORS); "
        "assert 'matplotlib.pyplot' not in sys.modules"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True, timeout=60)


def stuck_journal() -> Journal:
    """The naive client finishes nothing from t=20 to t=40: no value, a journey running."""
    journal = factory.journal()
    for sample in journal.samples:
        stuck = 20 <= sample.t < 40
        sample.running_s = {"naive": sample.t - 19 if stuck else 0.1, "resilient": 0.01}
        if stuck and sample.values:
            sample.values[factory.ERRORS.name]["naive"] = None
    return journal


def test_a_stuck_client_is_drawn_not_hidden_behind_a_gap() -> None:
    journal = stuck_journal()
    runs = charts.stalls(journal, factory.ERRORS.name, "naive")
    # Stuck once its journey has run longer than the window (3 s): from t=22 on.
    assert [(run.start, run.end, run.running_s) for run in runs] == [(22.0, 39.0, 20.0)]
    assert charts.stalls(journal, factory.ERRORS.name, "resilient") == []
    # Early gaps (no journey long enough yet) are not a stall.
    assert charts.stalls(factory.journal(), factory.LATENCY.name, "resilient") == []
    chart = charts.build_chart(journal, factory.ERRORS, key=True)
    texts = [t.get_text() for t in chart.axes.texts]
    assert any("naive: no journey finished (one running 20 s)" in t for t in texts)
    # The bar is the naive client's colour, at the bottom, inside the stall.
    bottom = chart.axes.get_ylim()[0]
    height = chart.axes.get_ylim()[1] - bottom
    r, g, b, _ = _pixel(chart, 30.0, bottom + 0.02 * height)
    assert r > g and r > b  # warm: #d9480f under the hatch


def test_each_expectation_is_drawn_at_its_threshold() -> None:
    journal = factory.journal()
    lines = charts.thresholds(journal, factory.ERRORS.name)
    assert {(t.value, t.op, t.client) for t in lines} == {
        (0.3, ">", "naive"),
        (0.05, "<", "resilient"),
    }
    chart = charts.build_chart(journal, factory.ERRORS, key=True)
    drawn = {round(float(line.get_ydata()[0]), 3) for line in chart.axes.lines[2:]}
    assert {0.3, 0.05} <= drawn
    texts = [t.get_text().strip() for t in chart.axes.texts]
    assert "naive > 30 %" in texts and "resilient < 5 %" in texts
    assert charts.thresholds(journal, factory.THROUGHPUT.name) == []


def test_latency_goes_to_a_log_scale_when_the_clients_differ_tenfold() -> None:
    journal = factory.journal()  # naive 2 s in the fault, resilient 0.3 s: under tenfold
    assert charts.build_chart(journal, factory.LATENCY).axes.get_yscale() == "linear"
    for sample in journal.samples:
        latency = sample.values.get(factory.LATENCY.name)
        if latency and latency["naive"] == 2.0:
            latency["naive"] = 9.9
    chart = charts.build_chart(journal, factory.LATENCY)
    assert chart.axes.get_yscale() == "log"
    assert chart.axes.get_ylabel() == "seconds (log scale)"


def test_values_read_in_their_unit() -> None:
    chart = charts.build_chart(factory.journal(), factory.LATENCY)
    formatter = chart.axes.yaxis.get_major_formatter()
    assert formatter(0.25, 0) == "250 ms" and formatter(2.0, 0) == "2 s"
    ratio = charts.build_chart(factory.journal(), factory.ERRORS).axes.yaxis
    assert ratio.get_major_formatter()(0.5, 0) == "50 %"


def test_fault_labels_carry_their_units() -> None:
    journal = factory.journal(1)  # a latency fault
    journal.faults[0].units = {"latency": "ms", "jitter": "ms"}
    chart = charts.build_chart(journal, journal.key_signal, key=True)
    assert any(
        "latency@api-1 latency 2000 ms, jitter 100 ms" in t.get_text() for t in chart.axes.texts
    )
