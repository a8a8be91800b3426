"""Disciplining a client's clock from NTP, the naive way and the resilient way.

Naive: one server, one query, step the clock by whatever it says. A server told to
lie +30 s moves the clock +30 s, and every signed request after that is refused
as ``RequestTimeTooSkewed`` (fallacy 6).

Resilient: a burst to each of three servers, keeping each burst's lowest-delay
sample (NTP's clock filter: the shortest round trip had the least room for
queueing and asymmetry, fallacy 8), then Marzullo's intersection over the three
(``services.ntp.selection``) so one falseticker is outvoted. Without a majority the
clock is left alone: free-running beats following a liar.
"""

from __future__ import annotations

import asyncio
import logging

from services.ntp.client import NTPClientError, Sample, burst, query
from services.ntp.selection import NoMajorityError, Selection, select
from services.workload._types import ClientName
from services.workload.clock import ClientClock
from services.workload.config import NtpServerRef, parse_address
from services.workload.metrics import WorkloadMetrics
from services.workload.trace import span

log = logging.getLogger(__name__)


class NaiveTimeSync:
    def __init__(
        self,
        server: NtpServerRef,
        clock: ClientClock,
        *,
        client: ClientName,
        metrics: WorkloadMetrics,
        timeout_s: float,
    ) -> None:
        self.server = server
        self.clock = clock
        self.client = client
        self.metrics = metrics
        self.timeout_s = timeout_s
        self._host, self._port = parse_address(server.address)
        self.selected: tuple[str, ...] = ()

    async def sync_once(self) -> None:
        m = self.metrics
        try:
            with span("ntp", self.server.name):
                sample = await query(
                    self._host, self._port, timeout=self.timeout_s, time_ns=self.clock.time_ns
                )
        except NTPClientError as exc:
            log.debug("%s: no time from %s: %s", self.client, self.server.name, exc)
            m.ntp_syncs.labels(self.client, "unreachable").inc()
            return
        self.clock.step(sample.offset)
        self.selected = (self.server.name,)
        m.ntp_selected.labels(self.client, self.server.name).set(1)
        m.ntp_syncs.labels(self.client, "ok").inc()
        m.clock_offset.labels(self.client).set(self.clock.offset)


class ResilientTimeSync:
    def __init__(
        self,
        servers: tuple[NtpServerRef, ...],
        clock: ClientClock,
        *,
        client: ClientName,
        metrics: WorkloadMetrics,
        timeout_s: float,
        burst_size: int,
    ) -> None:
        self.servers = servers
        self.clock = clock
        self.client = client
        self.metrics = metrics
        self.timeout_s = timeout_s
        self.burst_size = burst_size
        self.selected: tuple[str, ...] = ()
        self.last: Selection | None = None
        for server in servers:
            metrics.ntp_selected.labels(client, server.name).set(0)

    async def _sample(self, server: NtpServerRef) -> tuple[str, Sample] | None:
        host, port = parse_address(server.address)
        try:
            with span("ntp", server.name, f"burst of {self.burst_size}"):
                sample = await burst(
                    host, port, self.burst_size, timeout=self.timeout_s, time_ns=self.clock.time_ns
                )
        except NTPClientError as exc:
            log.debug("%s: no time from %s: %s", self.client, server.name, exc)
            return None
        return server.name, sample

    async def sync_once(self) -> None:
        m = self.metrics
        results = await asyncio.gather(*(self._sample(s) for s in self.servers))
        named = {sample.server: name for name, sample in filter(None, results)}
        samples = [sample for _, sample in filter(None, results)]
        if not samples:
            m.ntp_syncs.labels(self.client, "unreachable").inc()
            return
        try:
            selection = select(samples)
        except NoMajorityError as exc:
            log.debug("%s: %s", self.client, exc)
            m.ntp_syncs.labels(self.client, "no_majority").inc()
            return
        self.last = selection
        self.clock.step(selection.offset)
        self.selected = tuple(named[s] for s in selection.truechimers)
        for server in self.servers:
            m.ntp_selected.labels(self.client, server.name).set(
                1 if server.name in self.selected else 0
            )
        for falseticker in selection.falsetickers:
            m.ntp_falsetickers.labels(self.client, named[falseticker]).inc()
        m.ntp_syncs.labels(self.client, "ok").inc()
        m.clock_offset.labels(self.client).set(self.clock.offset)
