from __future__ import annotations

import pytest

from services.ntp.packet import (
    HEADER_SIZE,
    NTP_UNIX_DELTA,
    Header,
    PacketError,
    ns_to_ntp,
    ntp_diff_ns,
    ntp_to_ns,
)


@pytest.mark.parametrize(
    "unix_ns",
    [
        0,
        1,
        999_999_999,
        1_700_000_000_123_456_789,
        2_085_978_495_999_999_999,  # last ns of era 0 (2036-02-07 06:28:15)
        2_085_978_496_000_000_000,  # first ns of era 1
        2_200_000_000_000_000_001,
    ],
)
def test_timestamps_round_trip_to_the_nanosecond(unix_ns: int) -> None:
    assert ntp_to_ns(ns_to_ntp(unix_ns)) == unix_ns


def test_timestamp_layout_is_seconds_since_1900_dot_fraction() -> None:
    stamp = ns_to_ntp(1_500_000_000)  # 1.5 s after the Unix epoch
    assert stamp >> 32 == NTP_UNIX_DELTA + 1
    assert stamp & 0xFFFFFFFF == 1 << 31


def test_differences_survive_the_era_rollover() -> None:
    before = ns_to_ntp(2_085_978_495_900_000_000)
    after = ns_to_ntp(2_085_978_496_100_000_000)
    assert after < before  # the raw value wrapped
    assert ntp_diff_ns(after, before) == 200_000_000
    assert ntp_diff_ns(before, after) == -200_000_000


def test_header_round_trips() -> None:
    header = Header(
        leap=3,
        version=4,
        mode=4,
        stratum=2,
        poll=6,
        precision=-20,
        root_delay=0.5,
        root_dispersion=0.25,
        ref_id=b"LOCL",
        reference=1,
        origin=2,
        receive=3,
        transmit=4,
    )
    data = header.encode()
    assert len(data) == HEADER_SIZE == 48
    assert Header.decode(data) == header
    assert Header.decode(data + b"extension fields").transmit == 4


def test_kiss_code_only_for_stratum_zero() -> None:
    assert Header(stratum=0, ref_id=b"RATE").kiss_code == "RATE"
    assert Header(stratum=1, ref_id=b"LOCL").kiss_code is None


def test_short_datagram_is_a_packet_error() -> None:
    with pytest.raises(PacketError) as info:
        Header.decode(b"\x23" * 47)
    assert info.value.reason == "short"
