from __future__ import annotations

import random

import pytest

from services.workload.backoff import Backoff


def test_each_delay_is_within_full_jitter_bounds() -> None:
    backoff = Backoff(base_s=0.05, cap_s=1.0, max_attempts=12, rng=random.Random(3))
    for retry in range(40):
        ceiling = min(1.0, 0.05 * 2**retry)
        assert backoff.ceiling(retry) == pytest.approx(ceiling)
        for _ in range(200):
            assert 0.0 <= backoff.delay(retry) <= ceiling


def test_the_jitter_covers_the_window_rather_than_its_top() -> None:
    backoff = Backoff(base_s=0.1, cap_s=10.0, max_attempts=2, rng=random.Random(5))
    draws = [backoff.delay(3) for _ in range(2000)]  # window [0, 0.8]
    assert min(draws) < 0.08
    assert max(draws) > 0.72


def test_schedule_is_bounded_and_reproducible() -> None:
    def schedule(seed: int) -> list[float]:
        return list(
            Backoff(base_s=0.05, cap_s=1.0, max_attempts=4, rng=random.Random(seed)).schedule()
        )

    assert len(schedule(1)) == 3
    assert schedule(1) == schedule(1)
    assert schedule(1) != schedule(2)
    assert list(Backoff(base_s=0.05, cap_s=1.0, max_attempts=1).schedule()) == []


def test_huge_retry_numbers_stay_at_the_cap() -> None:
    backoff = Backoff(base_s=0.05, cap_s=2.0, max_attempts=2)
    assert backoff.ceiling(10_000) == 2.0


@pytest.mark.parametrize("kwargs", [{"base_s": 0}, {"cap_s": -1}, {"max_attempts": 0}])
def test_rejects_nonsense(kwargs: dict[str, float]) -> None:
    values = {"base_s": 0.05, "cap_s": 1.0, "max_attempts": 3, **kwargs}
    with pytest.raises(ValueError):
        Backoff(**values)  # type: ignore[arg-type]
