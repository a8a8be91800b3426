"""NTP selection as the resilient client runs it, against real SNTP servers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from services.ntp import Lies, NTPServer
from services.workload.clock import ClientClock
from services.workload.config import NtpServerRef
from services.workload.metrics import WorkloadMetrics
from services.workload.timesync import NaiveTimeSync, ResilientTimeSync

LIE_S = 30.0


@pytest.fixture
async def servers() -> AsyncIterator[dict[str, NTPServer]]:
    started: dict[str, NTPServer] = {}
    try:
        for name in ("ntp-a", "ntp-b", "ntp-c"):
            server = NTPServer(
                name=name,
                port=0,
                admin_port=0,
                registry=CollectorRegistry(),
                rate_limit_key="address",  # as the mesh: every client on 127.0.0.1
            )
            await server.start()
            started[name] = server
        yield started
    finally:
        for server in started.values():
            await server.stop()


def refs(servers: dict[str, NTPServer]) -> tuple[NtpServerRef, ...]:
    return tuple(NtpServerRef(name=n, address=s.endpoints["udp"]) for n, s in servers.items())


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_resilient_outvotes_one_falseticker(servers: dict[str, NTPServer]) -> None:
    servers["ntp-a"].clock.tell(Lies(offset=LIE_S))
    registry = CollectorRegistry()
    clock = ClientClock()
    sync = ResilientTimeSync(
        refs(servers),
        clock,
        client="resilient",
        metrics=WorkloadMetrics(registry),
        timeout_s=0.5,
        burst_size=4,
    )
    await sync.sync_once()
    assert abs(clock.offset) < 0.05
    assert sync.selected == ("ntp-b", "ntp-c")
    assert sync.last is not None and sync.last.falsetickers
    assert (
        value(
            registry,
            "fallacies_workload_ntp_falsetickers_total",
            client="resilient",
            server="ntp-a",
        )
        == 1
    )
    assert (
        value(registry, "fallacies_workload_ntp_selected", client="resilient", server="ntp-a") == 0
    )
    assert (
        value(registry, "fallacies_workload_ntp_selected", client="resilient", server="ntp-b") == 1
    )
    assert (
        abs(value(registry, "fallacies_workload_clock_offset_seconds", client="resilient")) < 0.05
    )


async def test_naive_steps_to_whatever_its_one_server_says(
    servers: dict[str, NTPServer],
) -> None:
    servers["ntp-a"].clock.tell(Lies(offset=LIE_S))
    registry = CollectorRegistry()
    clock = ClientClock()
    sync = NaiveTimeSync(
        refs(servers)[0], clock, client="naive", metrics=WorkloadMetrics(registry), timeout_s=0.5
    )
    await sync.sync_once()
    assert clock.offset == pytest.approx(LIE_S, abs=0.05)
    assert value(
        registry, "fallacies_workload_clock_offset_seconds", client="naive"
    ) == pytest.approx(LIE_S, abs=0.05)
    # Steps are relative to the client's own clock: syncing again stays put.
    await sync.sync_once()
    assert clock.offset == pytest.approx(LIE_S, abs=0.05)


async def test_without_a_majority_the_clock_is_left_alone(
    servers: dict[str, NTPServer],
) -> None:
    servers["ntp-a"].clock.tell(Lies(offset=LIE_S))
    servers["ntp-b"].clock.tell(Lies(offset=-LIE_S))
    servers["ntp-c"].clock.tell(Lies(offset=2 * LIE_S))
    registry = CollectorRegistry()
    clock = ClientClock()
    sync = ResilientTimeSync(
        refs(servers),
        clock,
        client="resilient",
        metrics=WorkloadMetrics(registry),
        timeout_s=0.5,
        burst_size=2,
    )
    await sync.sync_once()
    assert clock.offset == 0
    assert (
        value(
            registry,
            "fallacies_workload_ntp_syncs_total",
            client="resilient",
            outcome="no_majority",
        )
        == 1
    )


async def test_an_unreachable_server_is_counted_not_fatal() -> None:
    registry = CollectorRegistry()
    clock = ClientClock()
    gone = NtpServerRef(name="ntp-a", address="127.0.0.1:9")
    sync = NaiveTimeSync(
        gone, clock, client="naive", metrics=WorkloadMetrics(registry), timeout_s=0.2
    )
    await sync.sync_once()
    assert clock.offset == 0
    assert (
        value(registry, "fallacies_workload_ntp_syncs_total", client="naive", outcome="unreachable")
        == 1
    )
