"""Per-link counters, kept as plain ints on the hot path and read by the metrics collector.

A Prometheus ``Counter.inc()`` takes a lock; a relay forwarding a hundred
thousand datagrams a second should not. The collector (``metrics.py``) turns
these into series at scrape time.
"""

from __future__ import annotations

__all__ = ["LinkStats"]


class LinkStats:
    """Counters of one link name; they outlive the link so a re-created link keeps counting up."""

    __slots__ = (
        "bytes",
        "received",
        "datagrams",
        "connections",
        "active",
        "upstream_errors",
        "dropped",
    )

    def __init__(self) -> None:
        self.bytes = [0, 0]
        """Bytes forwarded (sent on, after the toxics), indexed by ``Direction``."""
        self.received = [0, 0]
        """Bytes read from the sending side, before the toxics, indexed by ``Direction``."""
        self.datagrams = [0, 0]
        """Datagrams forwarded, indexed by ``Direction``."""
        self.connections = 0
        """TCP connections accepted, or UDP sessions opened."""
        self.active = 0
        self.upstream_errors = 0
        """Connections or sessions given up because the upstream could not be reached."""
        self.dropped: dict[str, int] = {}
        """Datagrams dropped, by toxic type."""
