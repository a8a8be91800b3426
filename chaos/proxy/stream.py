"""The small vocabulary every layer shares: directions, protocols and chunks.

Toxiproxy keeps these in its ``stream`` package; here they are three names.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Chunk", "Direction", "NetProtocol"]


class Direction(enum.IntEnum):
    """Which way data flows through a link; the value indexes per-direction arrays."""

    UPSTREAM = 0
    """Client → upstream server (requests)."""
    DOWNSTREAM = 1
    """Upstream server → client (answers); Toxiproxy's default stream."""

    @property
    def wire(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Direction:
        """Case-insensitive, as Toxiproxy's ``ParseDirection``; raises ``ValueError``."""
        try:
            return cls[value.upper()]
        except KeyError:
            raise ValueError(value) from None


class NetProtocol(enum.Flag):
    """What a link carries, and what a toxic supports (a toxic may support both)."""

    TCP = enum.auto()
    UDP = enum.auto()

    @property
    def wire(self) -> str:
        return "+".join(p.name.lower() for p in NetProtocol if p in self and p.name)

    @classmethod
    def parse(cls, value: str) -> NetProtocol:
        """``"tcp"`` or ``"udp"``; raises ``ValueError``."""
        if value in ("tcp", "udp"):
            return cls[value.upper()]
        raise ValueError(value)


@dataclass(slots=True)
class Chunk:
    """A piece of a TCP stream in flight (or one datagram in unit tests).

    ``timestamp`` is the clock time (seconds) it entered the link, so a latency
    toxic waits only for the part of its delay that has not already passed.
    """

    data: bytes
    timestamp: float
