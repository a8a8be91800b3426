"""The journey of a request, per hop: each client's last journeys as spans whose steps add
up to the journey's measured duration."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from services.workload.trace import KEPT
from tests.workload.mesh import eventually, running_mesh

STEPS = ["resolve", "write", "catalog", "items"]
HOPS = {"dns", "connect", "send", "wait", "body"}


async def _journeys(base: str) -> dict[str, list[dict[str, Any]]]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/journeys") as response:
            assert response.status == 200
            found: dict[str, list[dict[str, Any]]] = await response.json()
            return found


async def test_each_client_shows_where_its_journeys_time_went() -> None:
    async with running_mesh(workload_overrides={"journey": {"interval_s": 0.05}}) as mesh:
        assert mesh.workload is not None
        await eventually(
            lambda: mesh.journeys("naive", "ok") >= 3 and mesh.journeys("resilient", "ok") >= 3
        )
        journeys = await _journeys(mesh.workload.endpoints["http"])
    assert set(journeys) == {"naive", "resilient"}
    for client, traces in journeys.items():
        done = [t for t in traces if t["outcome"] == "ok"]
        assert len(done) >= 3, client
        for trace in done:
            steps = [s for s in trace["spans"] if s["kind"] == "step"]
            assert [s["name"] for s in steps] == STEPS, client
            total = sum(s["end_s"] - s["start_s"] for s in steps)
            assert total == pytest.approx(trace["duration_s"], rel=0.05, abs=0.002), (client, trace)
            for earlier, later in zip(steps, steps[1:], strict=False):
                assert later["start_s"] >= earlier["end_s"]
            hops = [s for s in trace["spans"] if s["kind"] in HOPS]
            for hop in hops:
                assert 0 <= hop["start_s"] <= hop["end_s"] <= trace["duration_s"] + 1e-3, hop
            kinds = {s["kind"] for s in hops}
            assert {"send", "wait", "body"} <= kinds, (client, kinds)
            requests = [s for s in hops if s["kind"] == "wait"]
            assert all(s["name"].split()[0] in ("GET", "PUT", "POST") for s in requests)
            assert all(s["detail"].startswith("api-") for s in requests)
    if len(journeys["naive"]) < KEPT:  # its first journey is kept: the one that resolved
        first_naive = journeys["naive"][0]["spans"]
        assert any(s["kind"] == "dns" and s["detail"] == "udp" for s in first_naive)
    resilient_dns = [s for t in journeys["resilient"] for s in t["spans"] if s["kind"] == "dns"]
    assert resilient_dns and all(s["detail"] in ("udp", "tcp") for s in resilient_dns)
    every_dns = [
        s for ts in journeys.values() for t in ts for s in t["spans"] if s["kind"] == "dns"
    ]
    assert {s["name"].split()[0] for s in every_dns} <= {"SRV", "A", "AAAA", "TXT"}, every_dns
