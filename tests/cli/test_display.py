"""What the terminal shows: the summary table fits 80 columns, with units, and a client
that finished nothing is said to be stuck rather than shown as a dash."""

from __future__ import annotations

import io

from rich.console import Console

from chaos.cli.display import print_summary
from chaos.signals.units import show_client
from tests.report import factory


def summary(width: int = 80) -> str:
    journals = factory.run()
    for journal in journals:
        journal.key = {"naive": 0.61, "resilient": 0.021}
        journal.key_running_s = {"naive": 0.1, "resilient": 0.1}
    journals[0].key = {"naive": None, "resilient": 0.021}
    journals[0].key_running_s = {"naive": 14.0, "resilient": 0.1}
    out = io.StringIO()
    print_summary(Console(file=out, width=width, color_system=None), journals)
    return out.getvalue()


def test_the_summary_fits_80_columns_with_both_clients_key_signal_in_its_unit() -> None:
    text = summary()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "61 %" in text and "2.1 %" in text
    assert "stuck for 14 s" in text
    assert "—" not in text


def test_a_value_says_stuck_or_no_data_never_a_dash() -> None:
    assert show_client(1.25, "seconds", 0.2) == "1.25 s"
    assert show_client(None, "ratio", 9.0) == "stuck for 9 s"
    assert show_client(None, "ratio", 0.4) == "no data"
    assert show_client(262_000, "bytes", None) == "262 KB"
