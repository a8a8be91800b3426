"""Fallacy 6 in miniature: another administrator makes the naive client's time server lie."""

from __future__ import annotations

from services.ntp import Lies
from tests.workload.mesh import eventually, running_mesh

FAST = {"ntp": {"interval_s": 0.2}, "journey": {"interval_s": 0.05}}


async def test_a_lying_time_server_gets_the_naive_client_refused() -> None:
    async with running_mesh(workload_overrides=FAST, catalog_items=300) as mesh:
        await eventually(
            lambda: mesh.journeys("naive", "ok") >= 3 and mesh.journeys("resilient", "ok") >= 3,
            what="warm-up",
        )
        mesh.ntp["ntp-a"].clock.tell(Lies(offset=30.0))

        def skewed() -> float:
            return mesh.sample(
                "fallacies_workload_rejects_total",
                {"client": "naive", "reason": "RequestTimeTooSkewed"},
            )

        await eventually(
            lambda: skewed() >= 3 and mesh.journeys("naive", "rejected_skew") >= 3,
            what="naive refused for skew",
        )
        assert mesh.sample("fallacies_workload_clock_offset_seconds", {"client": "naive"}) > 29
        resilient_ok = mesh.journeys("resilient", "ok")
        await eventually(
            lambda: mesh.journeys("resilient", "ok") >= resilient_ok + 5,
            what="resilient keeps going",
        )
        assert mesh.journeys("resilient") == mesh.journeys("resilient", "ok")
        assert (
            mesh.sample(
                "fallacies_workload_rejects_total",
                {"client": "resilient", "reason": "RequestTimeTooSkewed"},
            )
            == 0
        )
        assert (
            abs(mesh.sample("fallacies_workload_clock_offset_seconds", {"client": "resilient"}))
            < 0.05
        )
        assert (
            mesh.sample(
                "fallacies_workload_ntp_falsetickers_total",
                {"client": "resilient", "server": "ntp-a"},
            )
            >= 1
        )
        assert (
            mesh.sample(
                "fallacies_workload_ntp_selected", {"client": "resilient", "server": "ntp-a"}
            )
            == 0
        )
