"""Durations: seconds as numbers, or text with ms, s or m."""

from __future__ import annotations

import pytest

from chaos.loader import parse_duration


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (0, 0.0),
        (4, 4.0),
        (0.25, 0.25),
        ("500ms", 0.5),
        ("4s", 4.0),
        ("1.5s", 1.5),
        (".5s", 0.5),
        ("1m", 60.0),
        ("0s", 0.0),
    ],
)
def test_valid(raw: object, seconds: float) -> None:
    assert parse_duration(raw) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("20x", '"20x" is not a duration (use 500ms, 4s or 1m)'),
        ("4 s", '"4 s" is not a duration (use 500ms, 4s or 1m)'),
        ("1h", '"1h" is not a duration (use 500ms, 4s or 1m)'),
        ("4", '"4" is not a duration (use 500ms, 4s or 1m)'),
        (True, "true is not a duration (use 500ms, 4s or 1m)"),
        (None, "null is not a duration (use 500ms, 4s or 1m)"),
        ([1], "a list is not a duration (use 500ms, 4s or 1m)"),
        (float("inf"), "inf is not a duration (use 500ms, 4s or 1m)"),
        (-1, "-1 is negative; a duration is 0 or more seconds"),
    ],
)
def test_invalid(raw: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(raw)
    assert str(caught.value) == message
