"""With no faults, both clients complete (nearly) every journey: the baseline every
experiment compares against. Runs the whole mesh in-process for 30 s."""

from __future__ import annotations

import asyncio
import time

from tests.workload.mesh import running_mesh

RUN_S = 30.0
MIN_JOURNEYS = 60


async def test_both_clients_complete_999_per_mille_over_30_s() -> None:
    async with running_mesh() as mesh:
        started = time.monotonic()
        await asyncio.sleep(RUN_S)
        elapsed = time.monotonic() - started
        for client in ("naive", "resilient"):
            total = mesh.journeys(client)
            ok = mesh.journeys(client, "ok")
            print(f"{client}: {ok:.0f}/{total:.0f} ok, {total / elapsed:.2f} journeys/s")
            assert total >= MIN_JOURNEYS, f"{client} ran only {total} journeys"
            assert ok / total >= 0.999, f"{client}: {ok}/{total} ok"
            labels = {"client": client}
            assert (
                mesh.sample(
                    "fallacies_workload_rejects_total", {**labels, "reason": "RequestTimeTooSkewed"}
                )
                == 0
            )
            assert (
                mesh.sample(
                    "fallacies_workload_forged_responses_total", {**labels, "action": "accepted"}
                )
                == 0
            )
            assert abs(mesh.sample("fallacies_workload_clock_offset_seconds", labels)) < 0.05
        tcp = {"transport": "tcp"}
        # EDNS0 keeps every answer on UDP; the stub resolver without it (its default)
        # gets the large TXT truncated and asks again over TCP, once per journey.
        assert (
            mesh.sample("fallacies_workload_dns_lookups_total", {"client": "resilient", **tcp}) == 0
        )
        naive_tcp = mesh.sample("fallacies_workload_dns_lookups_total", {"client": "naive", **tcp})
        assert naive_tcp >= mesh.journeys("naive") - 1
        # The point of the resilient client's habits, visible even without faults.
        naive_bytes = mesh.sample("fallacies_workload_journey_bytes_sum", {"client": "naive"})
        resilient_bytes = mesh.sample(
            "fallacies_workload_journey_bytes_sum", {"client": "resilient"}
        )
        assert resilient_bytes * 20 < naive_bytes
        assert mesh.sample("fallacies_workload_not_modified_total", {"client": "resilient"}) > 0
        assert (
            mesh.sample(
                "fallacies_workload_forged_responses_total",
                {"client": "resilient", "action": "rejected"},
            )
            == 0
        )
