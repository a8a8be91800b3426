"""An SNTP client for the workload: one query, or a burst filtered down to its best sample.

    NTPClientError            anything that leaves the caller without a usable sample
     ├── NTPTimeoutError      no acceptable reply in time (also a TimeoutError)
     │    └── BogusReplyError  ... and some replies were rejected (wrong origin, mode ...)
     └── KissOfDeathError     the server said stop (``code``, e.g. "RATE"): never a sample

A reply is accepted only if its origin timestamp equals the transmit timestamp this
socket sent, bit for bit (RFC 5905 §8's bogus check; the low bits of each request's
timestamp are random, so an off-path spoofer has to guess them). Anything else is
ignored and counted and the query keeps waiting, so a forged datagram cannot cancel a
real answer.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast

from services.common.address import join
from services.common.errors import FallaciesError
from services.ntp.packet import (
    HEADER_SIZE,
    LEAP_ALARM,
    MODE_CLIENT,
    MODE_SERVER,
    STRATUM_MAX,
    Header,
    ns_to_ntp,
    ntp_diff_ns,
)

CLIENT_PRECISION: Final = 1e-6
"""Seconds: the resolution of this client's own timestamps, added to every interval."""

_RANDOM_BITS: Final = 8  # ~60 ns of the timestamp: unguessable, yet far below precision


class NTPClientError(FallaciesError):
    """No usable time from ``server``."""

    def __init__(self, server: str, message: str) -> None:
        self.server = server
        super().__init__(f"{server}: {message}")


class NTPTimeoutError(NTPClientError, TimeoutError):
    def __init__(self, server: str, timeout: float, bogus: int = 0) -> None:
        self.timeout = timeout
        self.bogus = bogus
        extra = f" ({bogus} bogus replies rejected)" if bogus else ""
        super().__init__(server, f"no reply within {timeout:g} s{extra}")


class BogusReplyError(NTPTimeoutError):
    """Replies came, none answered what was asked: spoofed, replayed, or a broken server."""


class KissOfDeathError(NTPClientError):
    def __init__(self, server: str, code: str) -> None:
        self.code = code
        super().__init__(server, f"kiss-o'-death {code!r}")


@dataclass(frozen=True, slots=True)
class Sample:
    """One exchange. Offsets and delays in seconds; T1..T4 as raw NTP timestamps.

    ``offset`` is the server's clock minus ours, so a server told to lie +5 s gives ~+5.0.
    """

    server: str
    offset: float
    delay: float
    stratum: int
    leap: int
    root_delay: float
    root_dispersion: float
    ref_id: bytes
    t1: int
    t2: int
    t3: int
    t4: int

    @property
    def synchronized(self) -> bool:
        """False when the server admits it is not a time source (LI=3 or stratum > 15)."""
        return self.leap != LEAP_ALARM and 1 <= self.stratum <= STRATUM_MAX

    @property
    def root_distance(self) -> float:
        """Half-width of the correctness interval: how wrong ``offset`` can be, at most.

        Half the round trip (the worst asymmetry), plus what the server admits about its own
        path to the reference (root delay / 2 + root dispersion), plus our precision.
        """
        return (
            max(self.delay, 0.0) / 2 + self.root_delay / 2 + self.root_dispersion + CLIENT_PRECISION
        )


def offset_and_delay(t1: int, t2: int, t3: int, t4: int) -> tuple[float, float]:
    """θ = ((T2−T1) + (T3−T4)) / 2 and δ = (T4−T1) − (T3−T2), in seconds.

    Differences are taken on the raw 64-bit timestamps, so an era rollover between the
    client's and the server's stamps cancels out (RFC 5905 §6).
    """
    d21 = ntp_diff_ns(t2, t1)
    d34 = ntp_diff_ns(t3, t4)
    d41 = ntp_diff_ns(t4, t1)
    d32 = ntp_diff_ns(t3, t2)
    return (d21 + d34) / 2e9, (d41 - d32) / 1e9


class _ClientProtocol(asyncio.DatagramProtocol):
    """A connected UDP socket with one future per request in flight, keyed by T1."""

    def __init__(self, server: str, time_ns: Callable[[], int]) -> None:
        self.server = server
        self.bogus = 0
        self._now = time_ns
        self._waiting: dict[int, asyncio.Future[Sample]] = {}
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        t4 = ns_to_ntp(self._now())
        if len(data) < HEADER_SIZE:
            self.bogus += 1
            return
        reply = Header.decode(data)
        future = self._waiting.get(reply.origin)
        if (
            future is None
            or future.done()
            or reply.mode != MODE_SERVER
            or not 1 <= reply.version <= 4
            or reply.transmit == 0
        ):
            self.bogus += 1
            return
        del self._waiting[reply.origin]
        code = reply.kiss_code
        if code is not None:
            future.set_exception(KissOfDeathError(self.server, code))
            return
        offset, delay = offset_and_delay(reply.origin, reply.receive, reply.transmit, t4)
        future.set_result(
            Sample(
                server=self.server,
                offset=offset,
                delay=delay,
                stratum=reply.stratum,
                leap=reply.leap,
                root_delay=reply.root_delay,
                root_dispersion=reply.root_dispersion,
                ref_id=reply.ref_id,
                t1=reply.origin,
                t2=reply.receive,
                t3=reply.transmit,
                t4=t4,
            )
        )

    def error_received(self, exc: Exception) -> None:
        error = NTPClientError(self.server, f"unreachable: {exc}")
        error.__cause__ = exc
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(error)
        self._waiting.clear()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()

    async def exchange(self, timeout: float, version: int = 4) -> Sample:
        transport = self._transport
        if transport is None:
            raise NTPClientError(self.server, "socket closed")
        future: asyncio.Future[Sample] = asyncio.get_running_loop().create_future()
        t1 = ns_to_ntp(self._now()) & ~((1 << _RANDOM_BITS) - 1) | secrets.randbits(_RANDOM_BITS)
        while t1 in self._waiting:
            t1 ^= 1
        self._waiting[t1] = future
        request = Header(version=version, mode=MODE_CLIENT, transmit=t1).encode()
        bogus_before = self.bogus
        transport.sendto(request)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            bogus = self.bogus - bogus_before
            error = BogusReplyError if bogus else NTPTimeoutError
            raise error(self.server, timeout, bogus) from None
        finally:
            self._waiting.pop(t1, None)


async def _open(host: str, port: int, time_ns: Callable[[], int]) -> _ClientProtocol:
    loop = asyncio.get_running_loop()
    server = join(host, port)
    _, protocol = await loop.create_datagram_endpoint(
        lambda: _ClientProtocol(server, time_ns), remote_addr=(host, port)
    )
    return protocol


async def query(
    host: str,
    port: int = 123,
    *,
    timeout: float = 1.0,
    version: int = 4,
    time_ns: Callable[[], int] = time.time_ns,
) -> Sample:
    """Ask ``host:port`` once; ``timeout`` in seconds. Raises an ``NTPClientError``."""
    protocol = await _open(host, port, time_ns)
    try:
        return await protocol.exchange(timeout, version)
    finally:
        protocol.close()


async def burst(
    host: str,
    port: int = 123,
    n: int = 4,
    *,
    timeout: float = 1.0,
    interval: float = 0.0,
    time_ns: Callable[[], int] = time.time_ns,
) -> Sample:
    """Ask ``n`` times in a row and keep the sample with the lowest delay.

    NTP's clock filter in miniature: the shortest round trip had the least room for
    queueing and asymmetry, so its offset is the most trustworthy. Lost replies are
    skipped; a kiss-o'-death ends the burst at once (asking again is what it forbids).
    ``interval`` is the pause between requests in seconds.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    protocol = await _open(host, port, time_ns)
    samples: list[Sample] = []
    last_timeout: NTPTimeoutError | None = None
    try:
        for i in range(n):
            if i and interval > 0:
                await asyncio.sleep(interval)
            try:
                samples.append(await protocol.exchange(timeout))
            except NTPTimeoutError as exc:
                last_timeout = exc
    finally:
        protocol.close()
    if not samples:
        assert last_timeout is not None
        raise last_timeout
    return min(samples, key=lambda sample: sample.delay)
