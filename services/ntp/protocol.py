"""The SNTP datagram path: one request in, at most one 48-byte reply out.

Kept lean on purpose (it is what the 20k replies/s target measures): one look at the
first byte to classify, the origin copied as raw bytes, a single ``struct.pack``.

Dropped without a reply, and counted by reason: anything shorter than a header,
modes other than 3 (client) -- including 6 (control) and 7 (private, the monlist
amplifier) -- and versions outside 1..4. The reply is always 48 bytes and only
answers a request of at least 48 bytes, so the server can never amplify.

The reference timestamp is the last 64 s boundary of served time, as if the clock had
been disciplined at its last 64 s poll: always before the receive timestamp, and it
moves with the lie.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any, Final, cast

from services.ntp.clock import LyingClock
from services.ntp.metrics import Stats
from services.ntp.packet import LEAP_ALARM, MODE_SERVER, ns_to_ntp, seconds_to_short
from services.ntp.ratelimit import RateLimiter

# Like packet.HEADER but poll is echoed as the raw byte and the origin as the raw 8 bytes.
_REPLY: Final = struct.Struct("!BBBbII4sQ8sQQ")

PRECISION: Final = -20
"""log2 seconds, ~1 µs: the resolution of the timestamps (ns clock, µs-accurate path)."""

ROOT_DISPERSION: Final = 1 / 1024
"""Seconds of error the server admits to (~1 ms). Clients widen correctness intervals by it."""

REFID_PRIMARY: Final = b"LOCL"
"""Stratum 1 reference: the host clock, taken as a primary reference for the playground."""

REFID_SECONDARY: Final = bytes([127, 0, 0, 1])
"""Stratum 2+ reference (an upstream's IPv4 address by convention): loopback."""

KISS_RATE: Final = b"RATE"


class SNTPServerProtocol(asyncio.DatagramProtocol):
    """Answers mode-3 requests with the lying clock's time, or a KoD when rate-limited."""

    def __init__(self, clock: LyingClock, stats: Stats, limiter: RateLimiter | None = None) -> None:
        self._clock = clock
        self._stats = stats
        self._limiter = limiter
        self._now = clock.time_source
        self._transport: asyncio.DatagramTransport | None = None
        self._paused = False
        self.closed = asyncio.Event()
        self._root_dispersion = seconds_to_short(ROOT_DISPERSION)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self.closed.set()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False

    def error_received(self, exc: Exception) -> None:
        self._stats.socket_errors += 1

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        received_ns = self._now()
        stats = self._stats
        stats.requests += 1
        if len(data) < 48:
            stats.malformed["short"] += 1
            return
        first = data[0]
        mode = first & 7
        if mode != 3:
            reason = "mode6" if mode == 6 else "mode7" if mode == 7 else "bad_mode"
            stats.malformed[reason] += 1
            return
        version = (first >> 3) & 7
        if version == 0 or version > 4:
            stats.malformed["bad_version"] += 1
            return
        transport = self._transport
        if transport is None or self._paused:
            stats.busy += 1
            return
        clock = self._clock
        limiter = self._limiter
        verdict = "answer" if limiter is None else limiter.verdict(addr, received_ns)
        if verdict == "drop":
            stats.limited += 1
            return
        if verdict == "kiss":
            leap, stratum, ref_id, dispersion = LEAP_ALARM, 0, KISS_RATE, 0
            stats.kod["RATE"] += 1
        else:
            leap, stratum = clock.leap, clock.stratum
            ref_id = REFID_PRIMARY if stratum == 1 else REFID_SECONDARY
            dispersion = self._root_dispersion
            stats.replies += 1
        receive = ns_to_ntp(clock.serve(received_ns))
        transmit = ns_to_ntp(clock.serve(self._now()))
        transport.sendto(
            _REPLY.pack(
                (leap << 6) | (version << 3) | MODE_SERVER,
                stratum,
                data[2],
                PRECISION,
                0,
                dispersion,
                ref_id,
                (receive >> 38) << 38 if stratum else 0,
                data[40:48],
                receive,
                transmit,
            ),
            addr,
        )
