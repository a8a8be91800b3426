"""The workload node's own listener, and its lifecycle."""

from __future__ import annotations

import aiohttp

from services.workload.service import WorkloadService
from tests.workload.mesh import eventually, running_mesh


async def test_metrics_healthz_and_status() -> None:
    overrides = {"journey": {"interval_s": 0.02}}
    async with running_mesh(workload_overrides=overrides, catalog_items=300) as mesh:
        service = mesh.workload
        assert service is not None
        await eventually(
            lambda: mesh.journeys("naive", "ok") >= 2 and mesh.journeys("resilient", "ok") >= 2
        )
        base = service.endpoints["http"]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/healthz") as response:
                assert response.status == 200
                assert (await response.json())["status"] == "ok"
            async with session.get(f"{base}/metrics") as response:
                text = await response.text()
                assert 'fallacies_workload_journeys_total{client="naive",outcome="ok"}' in text
            async with session.get(f"{base}/status") as response:
                status = await response.json()
        for client in ("naive", "resilient"):
            entry = status["clients"][client]
            assert entry["journeys"]["ok"] >= 2
            assert entry["last_outcome"] == "ok"
            assert {e.split("=")[0] for e in entry["endpoints"]} == {"api-1", "api-2"}
        assert status["clients"]["resilient"]["ntp_selected"] == ["ntp-a", "ntp-b", "ntp-c"]
        assert status["defences"]["hedging"] is True
        assert "secret" not in str(status)
        # Per-hop durations: the journey of a request, dns to response.
        for hop in ("dns", "connect", "request", "response"):
            assert (
                mesh.sample(
                    "fallacies_workload_hop_duration_seconds_count",
                    {"client": "resilient", "hop": hop},
                )
                > 0
            )


async def test_stop_is_idempotent_and_safe_before_start() -> None:
    service = WorkloadService()
    await service.stop()
    assert service.endpoints == {}
    assert not service.running
