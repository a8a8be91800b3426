from __future__ import annotations

import pytest

from services.ntp.ratelimit import DEFAULT_BURST, DEFAULT_RATE, RateLimiter

MS = 1_000_000
A = ("127.0.0.1", 40000)
B = ("127.0.0.1", 40001)


def test_burst_then_refusal_then_refill() -> None:
    limiter = RateLimiter(rate=10, burst=3)
    assert [limiter.allow(A, 0) for _ in range(4)] == [True, True, True, False]
    assert not limiter.allow(A, 50 * MS)  # half a token
    assert limiter.allow(A, 100 * MS)  # refilled one token since the start
    assert not limiter.allow(A, 100 * MS)


def test_steady_workload_rate_is_never_limited() -> None:
    limiter = RateLimiter()
    now = 0
    for _ in range(1000):  # 4 queries/s for 250 s, each a burst of 1
        assert limiter.allow(A, now)
        now += 250 * MS


def test_an_eight_sample_burst_fits_the_defaults() -> None:
    limiter = RateLimiter()
    assert DEFAULT_BURST >= 8 and DEFAULT_RATE >= 8
    assert all(limiter.allow(A, i * MS) for i in range(8))


def test_by_address_each_socket_has_its_own_bucket() -> None:
    limiter = RateLimiter(rate=1, burst=1, key_by="address")
    assert limiter.allow(A, 0)
    assert not limiter.allow(A, 0)
    assert limiter.allow(B, 0)


def test_by_default_every_port_of_an_ip_shares_one_bucket() -> None:
    limiter = RateLimiter(rate=1, burst=1)
    assert limiter.allow(A, 0)
    assert not limiter.allow(B, 0)


def test_table_is_bounded_and_evicts_least_recently_seen() -> None:
    limiter = RateLimiter(rate=1, burst=1, key_by="address", max_clients=2)
    limiter.allow(A, 0)
    limiter.allow(B, 0)
    limiter.allow(A, 0)  # A is now the most recent (and empty)
    limiter.allow(("127.0.0.1", 40002), 0)  # evicts B, not A
    assert len(limiter) == 2
    assert not limiter.allow(A, 0)
    assert limiter.allow(B, 0)  # forgotten, so a fresh bucket


@pytest.mark.parametrize(
    "kwargs",
    [{"rate": 0}, {"rate": -1}, {"burst": 0}, {"key_by": "ip"}, {"max_clients": 0}],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RateLimiter(**kwargs)  # type: ignore[arg-type]


def test_one_kiss_then_silence_until_under_the_rate_again() -> None:
    limiter = RateLimiter(rate=10, burst=1)
    assert [limiter.verdict(A, 0) for _ in range(4)] == ["answer", "kiss", "drop", "drop"]
    assert limiter.verdict(A, 100 * MS) == "answer"  # a token refilled
    assert limiter.verdict(A, 100 * MS) == "kiss"  # over again: one more kiss
