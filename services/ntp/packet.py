"""The 48-byte SNTPv4 header (RFC 4330, RFC 5905 §7.3) and NTP's 32.32 fixed-point time.

Hand-written with ``struct`` because the header is fixed and tiny; extension fields and
MACs that may follow it are ignored (the server never echoes them back)::

     0                   1                   2                   3
    |LI | VN  |Mode |    Stratum    |     Poll      |   Precision   |
    |                     Root Delay (16.16 s)                      |
    |                   Root Dispersion (16.16 s)                   |
    |                     Reference ID (4 bytes)                    |
    |              Reference Timestamp (64, 32.32 s)                |
    |              Origin Timestamp    (64)    = client's T1        |
    |              Receive Timestamp   (64)    = server's T2        |
    |              Transmit Timestamp  (64)    = server's T3        |

Timestamps stay raw 64-bit integers (seconds since 1900 in the high word) so that a
reply's origin can be compared bit for bit with what the client sent.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from services.common.errors import FallaciesError

HEADER: Final = struct.Struct("!BBbbII4sQQQQ")
HEADER_SIZE: Final = HEADER.size  # 48

NTP_UNIX_DELTA: Final = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
_NS: Final = 1_000_000_000
_MASK64: Final = (1 << 64) - 1
_ERA_SECONDS: Final = 1 << 32

MODE_CLIENT: Final = 3
MODE_SERVER: Final = 4
MODE_CONTROL: Final = 6
MODE_PRIVATE: Final = 7

LEAP_NONE: Final = 0
LEAP_ADD_SECOND: Final = 1
LEAP_DEL_SECOND: Final = 2
LEAP_ALARM: Final = 3  # "clock not synchronised"; also set on every kiss-o'-death

STRATUM_KISS: Final = 0
STRATUM_MAX: Final = 15  # 16 means unsynchronised


def ns_to_ntp(unix_ns: int) -> int:
    """Unix nanoseconds to a 64-bit NTP timestamp, floored to the 2**-32 s grid.

    Integer arithmetic throughout: a float of the current time in seconds carries only
    ~0.2 µs of resolution, too coarse for timestamps "correct to the microsecond".
    Wraps into the next era after 2036 as RFC 5905 §6 prescribes.
    """
    seconds, ns = divmod(unix_ns, _NS)
    return (((seconds + NTP_UNIX_DELTA) << 32) | ((ns << 32) // _NS)) & _MASK64


def ntp_to_ns(timestamp: int) -> int:
    """A 64-bit NTP timestamp to Unix nanoseconds, exact for anything ``ns_to_ntp`` made.

    A seconds field with the top bit clear is read as era 1 (after 2036-02-07), the
    RFC 4330 §3 convention, so the conversion keeps working past the rollover.
    """
    seconds = timestamp >> 32
    if seconds < 1 << 31:
        seconds += _ERA_SECONDS
    fraction_ns = ((timestamp & 0xFFFFFFFF) * _NS + (1 << 31)) >> 32
    return (seconds - NTP_UNIX_DELTA) * _NS + fraction_ns


def ntp_diff_ns(a: int, b: int) -> int:
    """``a - b`` in nanoseconds (rounded), modulo 2**64 so that era rollovers cancel out."""
    diff = (a - b) & _MASK64
    if diff >= 1 << 63:
        return -((((1 << 64) - diff) * _NS + (1 << 31)) >> 32)
    return (diff * _NS + (1 << 31)) >> 32


def seconds_to_short(seconds: float) -> int:
    """Seconds to the 16.16 "short format" of root delay and root dispersion (saturating)."""
    return max(0, min(0xFFFFFFFF, round(seconds * 65536)))


def short_to_seconds(short: int) -> float:
    return short / 65536


class PacketError(FallaciesError, ValueError):
    """A datagram that is not an SNTP header; ``reason`` is a bounded metric label."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Header:
    """One decoded header; root delay and dispersion in seconds, timestamps raw NTP."""

    leap: int = LEAP_NONE
    version: int = 4
    mode: int = MODE_CLIENT
    stratum: int = 0
    poll: int = 0  # log2 seconds
    precision: int = 0  # log2 seconds
    root_delay: float = 0.0
    root_dispersion: float = 0.0
    ref_id: bytes = b"\0\0\0\0"
    reference: int = 0
    origin: int = 0
    receive: int = 0
    transmit: int = 0

    def encode(self) -> bytes:
        return HEADER.pack(
            (self.leap << 6) | (self.version << 3) | self.mode,
            self.stratum,
            self.poll,
            self.precision,
            seconds_to_short(self.root_delay),
            seconds_to_short(self.root_dispersion),
            self.ref_id,
            self.reference,
            self.origin,
            self.receive,
            self.transmit,
        )

    @classmethod
    def decode(cls, data: bytes) -> Header:
        if len(data) < HEADER_SIZE:
            raise PacketError("short", f"{len(data)} bytes, an SNTP header needs {HEADER_SIZE}")
        (lvm, stratum, poll, precision, delay, dispersion, ref_id, ref, org, rec, xmt) = (
            HEADER.unpack_from(data)
        )
        return cls(
            leap=lvm >> 6,
            version=(lvm >> 3) & 7,
            mode=lvm & 7,
            stratum=stratum,
            poll=poll,
            precision=precision,
            root_delay=short_to_seconds(delay),
            root_dispersion=short_to_seconds(dispersion),
            ref_id=ref_id,
            reference=ref,
            origin=org,
            receive=rec,
            transmit=xmt,
        )

    @property
    def kiss_code(self) -> str | None:
        """The ASCII kiss code of a kiss-o'-death (stratum 0), e.g. ``"RATE"``."""
        if self.stratum != STRATUM_KISS:
            return None
        return self.ref_id.rstrip(b"\0").decode("ascii", "replace")
