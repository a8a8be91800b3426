"""Link profiles: Shannon's law with the numbers the narration prints."""

from __future__ import annotations

import math

import pytest

from chaos.faults._profiles import PROFILES, describe


def test_shannon_capacity() -> None:
    lte = PROFILES["lte"]
    assert lte.snr == pytest.approx(10.0)
    assert lte.capacity_bps == pytest.approx(5e6 * math.log2(11))  # ≈ 17.3 Mb/s
    wifi = PROFILES["wifi"]
    assert wifi.capacity_bps == pytest.approx(20e6 * math.log2(1 + 10**2.5))  # ≈ 166 Mb/s
    ethernet = PROFILES["ethernet"]
    assert ethernet.capacity_bps == pytest.approx(4 * 62.5e6 * math.log2(1001))  # ≈ 2.49 Gb/s


def test_rates_follow_from_the_share() -> None:
    for profile in PROFILES.values():
        expected = profile.capacity_bps * profile.share / 8 / 1000
        assert profile.rate_kb_s == int(expected)
    assert PROFILES["lte"].rate_kb_s == 1081  # ~8.6 Mb/s
    assert PROFILES["wifi"].rate_kb_s == 10386  # ~83 Mb/s
    assert 900e6 < PROFILES["ethernet"].effective_bps < 1e9  # "gigabit"


def test_the_media_are_ordered_as_in_life() -> None:
    ethernet, wifi, lte = (PROFILES[n] for n in ("ethernet", "wifi", "lte"))
    assert ethernet.rate_kb_s > wifi.rate_kb_s > lte.rate_kb_s
    assert ethernet.latency_ms < wifi.latency_ms < lte.latency_ms
    # CSMA/CA: Wi-Fi's delay varies about as much as it lasts, switched Ethernet's not at all.
    assert wifi.jitter_ms / wifi.latency_ms > lte.jitter_ms / lte.latency_ms
    assert ethernet.jitter_ms == 0
    for profile in PROFILES.values():
        assert profile.jitter_ms <= profile.latency_ms


def test_describe_shows_the_numbers() -> None:
    text = describe()
    assert text.count("\n") == 2
    assert "lte: C = 1 × 5 MHz × log2(1 + 10) [10 dB] = 17.3 Mb/s" in text
    assert "1081 KB/s" in text and "30 ± 10 ms" in text
    assert describe(("wifi",)).startswith("wifi: C = 1 × 20 MHz")
