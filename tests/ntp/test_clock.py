from __future__ import annotations

import pytest

from services.common.errors import FieldError
from services.ntp.clock import Lies, LyingClock

SECOND = 1_000_000_000


class FakeTime:
    def __init__(self, start: int = 1_700_000_000 * SECOND) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * SECOND)


def test_honest_by_default() -> None:
    fake = FakeTime()
    clock = LyingClock(time_ns=fake)
    assert clock.serve(fake.now) == fake.now
    assert clock.offset_at() == 0.0


def test_fixed_offset_is_added() -> None:
    fake = FakeTime()
    clock = LyingClock(Lies(offset=5.0), time_ns=fake)
    fake.advance(1000)
    assert clock.serve(fake.now) == fake.now + 5 * SECOND


def test_drift_accumulates_from_the_moment_it_is_set() -> None:
    fake = FakeTime()
    clock = LyingClock(time_ns=fake)
    fake.advance(100)  # time before the drift is set does not count
    clock.update(drift_ppm=200.0)
    assert clock.offset_at() == 0.0
    fake.advance(10)
    assert clock.offset_at() == pytest.approx(200e-6 * 10, abs=1e-9)
    fake.advance(3590)
    assert clock.offset_at() == pytest.approx(0.72, abs=1e-9)  # 200 ppm for an hour


def test_offset_and_drift_add_up() -> None:
    fake = FakeTime()
    clock = LyingClock(Lies(offset=-2.0, drift_ppm=-50.0), time_ns=fake)
    fake.advance(1000)
    assert clock.offset_at() == pytest.approx(-2.05, abs=1e-9)


def test_changing_drift_keeps_the_served_clock_continuous() -> None:
    fake = FakeTime()
    clock = LyingClock(Lies(drift_ppm=1000.0), time_ns=fake)
    fake.advance(10)
    before = clock.offset_at()
    clock.update(drift_ppm=-1000.0)
    assert clock.offset_at() == pytest.approx(before, abs=1e-9) == pytest.approx(0.01)
    fake.advance(10)
    assert clock.offset_at() == pytest.approx(0.0, abs=1e-9)


def test_setting_an_offset_steps_to_exactly_that_value() -> None:
    fake = FakeTime()
    clock = LyingClock(Lies(drift_ppm=1000.0), time_ns=fake)
    fake.advance(10)
    clock.update(offset=3.0)
    assert clock.offset_at() == 3.0
    assert clock.lies() == Lies(offset=3.0, drift_ppm=1000.0)


def test_stratum_and_leap_are_claims_too() -> None:
    clock = LyingClock(time_ns=FakeTime())
    clock.update(stratum=7, leap=3)
    assert (clock.stratum, clock.leap) == (7, 3)
    clock.reset()
    assert (clock.stratum, clock.leap, clock.offset_at()) == (1, 0, 0.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stratum", 0),
        ("stratum", 16),
        ("leap", -1),
        ("leap", 4),
        ("offset", 1e12),
        ("offset", float("nan")),
        ("drift_ppm", float("inf")),
        ("drift_ppm", 2e6),
    ],
)
def test_bad_claims_name_the_field_and_change_nothing(field: str, value: float) -> None:
    fake = FakeTime()
    clock = LyingClock(Lies(offset=1.0), time_ns=fake)
    with pytest.raises(FieldError) as info:
        clock.update(**{field: value})
    assert info.value.field == field
    assert clock.lies() == Lies(offset=1.0)


def test_snapshot_reports_claims_and_their_sum() -> None:
    fake = FakeTime()
    clock = LyingClock(Lies(offset=1.0, drift_ppm=100.0), time_ns=fake)
    fake.advance(100)
    snap = clock.snapshot()
    assert snap["offset"] == 1.0
    assert snap["served_offset"] == pytest.approx(1.01)
    assert snap["lying"] is True
    assert snap["drift_since"] == pytest.approx((fake.now - 100 * SECOND) / 1e9)
