"""Each resilient defence against the fault it answers, in a short in-process mesh.

The naive client is measured alongside: it should break, and be seen breaking.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from services.api import ApiConfig, ApiServer
from tests.workload.mesh import eventually, free_port, publish_api, running_mesh

SMALL = 300
FAST = {"journey": {"interval_s": 0.02}, "ntp": {"interval_s": 0.5}}


def api_port(server: ApiServer) -> int:
    return int(server.endpoints["http"].rsplit(":", 1)[1])


@pytest.fixture
async def blackhole() -> AsyncIterator[int]:
    """A TCP port that accepts and reads, and never answers (a partition mid-path)."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        while await reader.read(65536):
            pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_key_rotation_stops_naive_and_resilient_discovers_the_new_key() -> None:
    async with running_mesh(workload_overrides=FAST, catalog_items=SMALL) as mesh:
        await eventually(lambda: mesh.journeys("resilient", "ok") >= 3, what="warm-up")
        for server in mesh.api.values():
            assert server.state is not None
            server.state.keys.rotate(
                "request", time.time(), kid="dev-2", secret="rotated-by-another-admin"
            )
        await eventually(
            lambda: mesh.journeys("naive", "rejected_key") >= 3,
            what="naive refused with its hard-coded key",
        )
        assert (
            mesh.sample(
                "fallacies_workload_rejects_total", {"client": "naive", "reason": "InvalidKeyId"}
            )
            >= 3
        )
        await eventually(
            lambda: (
                mesh.sample(
                    "fallacies_workload_key_discoveries_total",
                    {"client": "resilient", "outcome": "ok"},
                )
                >= 1
            )
        )
        ok = mesh.journeys("resilient", "ok")
        await eventually(lambda: mesh.journeys("resilient", "ok") >= ok + 5)
        assert mesh.workload is not None
        assert mesh.workload.resilient.credentials.key_id == "dev-2"
        assert mesh.journeys("resilient", "rejected_key") == 0


async def test_a_rogue_replica_is_accepted_by_naive_and_rejected_by_resilient() -> None:
    async with running_mesh(workload=False, catalog_items=SMALL) as mesh:
        rogue = ApiServer(
            config=ApiConfig(
                replica_id="api-1",
                catalog_items=SMALL,
                response_keys={"resp-1": "a-rogue-response-secret"},
            ),
            registry=CollectorRegistry(),
        )
        async with rogue:
            publish_api(
                mesh.dns.zone, {"api-1": api_port(rogue), "api-2": api_port(mesh.api["api-2"])}
            )
            registry = mesh.registries["workload"]
            from services.workload.service import WorkloadService

            async with WorkloadService(config=mesh.workload_config(FAST), registry=registry):
                await eventually(
                    lambda: (
                        mesh.sample(
                            "fallacies_workload_forged_responses_total",
                            {"client": "naive", "action": "accepted"},
                        )
                        >= 5
                        and mesh.sample(
                            "fallacies_workload_forged_responses_total",
                            {"client": "resilient", "action": "rejected"},
                        )
                        >= 1
                        and mesh.journeys("resilient", "ok") >= 10
                    ),
                    what="forgeries accepted by naive, rejected by resilient",
                )
                # Naive believed every forgery: its journeys through the rogue end "ok";
                # resilient went to the genuine replica.
                assert mesh.journeys("naive", "ok") >= 1
                assert mesh.journeys("naive") == mesh.journeys("naive", "ok")
                assert mesh.journeys("resilient") == mesh.journeys("resilient", "ok")
                assert (
                    mesh.sample(
                        "fallacies_workload_forged_responses_total",
                        {"client": "resilient", "action": "accepted"},
                    )
                    == 0
                )


async def test_a_moved_node_leaves_naive_on_a_stale_endpoint() -> None:
    async with running_mesh(workload=False, catalog_items=SMALL) as mesh:
        dead = free_port()
        publish_api(mesh.dns.zone, {"api-1": dead, "api-2": api_port(mesh.api["api-2"])}, ttl=1)
        from services.workload.service import WorkloadService

        async with WorkloadService(
            config=mesh.workload_config(FAST), registry=mesh.registries["workload"]
        ):
            # A dead but still published replica: naive fails half its journeys,
            # resilient retries on the other replica.
            await eventually(
                lambda: (
                    mesh.journeys("naive", "network_error") >= 2
                    and mesh.journeys("resilient", "ok") >= 5
                )
            )
            assert mesh.journeys("resilient") == mesh.journeys("resilient", "ok")
            assert mesh.sample("fallacies_workload_retries_total", {"client": "resilient"}) >= 1
            # The operator moves the name to api-2 only: naive keeps its cached answer.
            publish_api(mesh.dns.zone, {"api-2": api_port(mesh.api["api-2"])}, ttl=1)
            await eventually(
                lambda: mesh.journeys("naive", "stale_endpoint") >= 2,
                what="naive stuck on the old endpoint",
            )
            assert (
                mesh.sample("fallacies_workload_stale_endpoint_errors_total", {"client": "naive"})
                >= 2
            )


async def test_a_silent_replica_hangs_naive_but_not_resilient_and_stop_is_clean(
    blackhole: int,
) -> None:
    async with running_mesh(workload=False, catalog_items=SMALL) as mesh:
        publish_api(mesh.dns.zone, {"api-1": blackhole, "api-2": api_port(mesh.api["api-2"])})
        from services.workload.service import WorkloadService

        overrides = {**FAST, "resilient": {"request_timeout_s": 0.3, "hedge_delay_s": 0.05}}
        service = WorkloadService(
            config=mesh.workload_config(overrides), registry=mesh.registries["workload"]
        )
        async with service:
            await eventually(lambda: mesh.journeys("resilient", "ok") >= 10)
            assert mesh.journeys("resilient") == mesh.journeys("resilient", "ok")
            # No deadline of its own (aiohttp's default is 5 minutes): the naive client
            # waits on the first request it sends there.
            await eventually(
                lambda: (
                    mesh.sample("fallacies_workload_journeys_in_flight", {"client": "naive"}) == 1
                    and mesh.sample("fallacies_workload_requests_in_flight", {"client": "naive"})
                    == 1
                )
            )
            hedges = sum(
                mesh.sample(
                    "fallacies_workload_hedges_total", {"client": "resilient", "outcome": o}
                )
                for o in ("won", "lost")
            )
            timeouts = mesh.sample("fallacies_workload_retries_total", {"client": "resilient"})
            assert hedges + timeouts >= 1
            started = time.monotonic()
        assert time.monotonic() - started < 2.0
        assert not service.running
        assert mesh.sample("fallacies_workload_journeys_in_flight", {"client": "naive"}) == 0
