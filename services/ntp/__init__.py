"""SNTPv4 servers that can be told to lie, and the client side that has to cope with them.

Server: ``NTPServer`` (UDP + admin API), its claims in ``Lies``/``LyingClock``.
Client: ``query``/``burst`` return ``Sample``s; ``select`` runs Marzullo's intersection
over several servers' samples to outvote a falseticker.
"""

from __future__ import annotations

from services.ntp.client import (
    BogusReplyError,
    KissOfDeathError,
    NTPClientError,
    Sample,
    burst,
    offset_and_delay,
    query,
)
from services.ntp.clock import Lies, LyingClock
from services.ntp.ratelimit import RateLimiter
from services.ntp.selection import NoMajorityError, Selection, select
from services.ntp.server import NTPServer

__all__ = [
    "BogusReplyError",
    "KissOfDeathError",
    "Lies",
    "LyingClock",
    "NTPClientError",
    "NTPServer",
    "NoMajorityError",
    "RateLimiter",
    "Sample",
    "Selection",
    "burst",
    "offset_and_delay",
    "query",
    "select",
]
