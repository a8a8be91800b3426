"""Every edge of the embedded mesh runs through a named link of a fault proxy."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.embedded.plan import build_plan
from chaos.embedded.supervisor import Supervisor
from chaos.mesh.errors import LinkError
from chaos.mesh.links import Links
from chaos.mesh.state import MeshState
from chaos.toxiproxy import Toxiproxy
from tests.conftest import require_tool
from tests.embedded.conftest import eventually, scrape, total

EDGES = {"dns", "dns-tcp", "ntp-a", "ntp-b", "ntp-c", "api-1", "api-2", "repl-1-2", "repl-2-1"}


def test_plan_points_every_client_at_a_link() -> None:
    plan = build_plan(base_port=0)
    links = {link.name: link for link in plan.links}
    assert set(links) == EDGES
    workload = plan.node("workload").config
    assert workload["dns"] == {"udp": links["dns"].listen, "tcp": links["dns-tcp"].listen}
    assert {s["name"]: s["address"] for s in workload["ntp"]["servers"]} == {
        name: links[name].listen for name in ("ntp-a", "ntp-b", "ntp-c")
    }
    srv = next(r for r in plan.records if r["type"] == "SRV")
    assert sorted(v["port"] for v in srv["values"]) == sorted(
        int(links[name].listen.rsplit(":", 1)[1]) for name in ("api-1", "api-2")
    )
    assert plan.node("api-1").config["peers"] == {"api-2": f"http://{links['repl-1-2'].listen}"}
    assert plan.node("api-2").config["peers"] == {"api-1": f"http://{links['repl-2-1'].listen}"}
    for name in ("dns", "ntp-a", "ntp-b", "ntp-c"):
        assert links[name].protocol == "udp"
    # Each link's upstream is the node's real port, never another link.
    listens = {link.listen for link in plan.links}
    assert not any(link.upstream in listens for link in plan.links)


async def test_traffic_flows_through_the_links(mesh: tuple[Supervisor, MeshState]) -> None:
    supervisor, state = mesh
    metrics = supervisor.plan.node("proxy").metrics_url
    assert metrics is not None
    # The naive stub resolver asks no EDNS: the large TXT comes back truncated and
    # again over TCP on every journey, so every link carries traffic at rest.
    steady = EDGES

    async def all_carry() -> bool:
        samples = await scrape(metrics)
        return all(total(samples, "fallacies_proxy_bytes_total", link=n) > 0 for n in steady)

    await eventually(all_carry)

    # Truncating the UDP DNS path cuts the resilient client's EDNS0 answers: it falls
    # back to the dns-tcp link.
    workload = state.nodes["workload"].metrics_url
    before = total(
        await scrape(workload), "fallacies_workload_dns_lookups_total", client="resilient"
    )
    assert before > 0
    await Links(state).add_toxic("dns", "truncate", attributes={"max_size": 512}, ttl=30)

    async def tcp_fallback() -> bool:
        samples = await scrape(workload)
        return (
            total(
                samples, "fallacies_workload_dns_lookups_total", client="resilient", transport="tcp"
            )
            > 0
        )

    await eventually(tcp_fallback)


async def test_link_down_reverts_after_ttl(mesh: tuple[Supervisor, MeshState]) -> None:
    _, state = mesh
    links = Links(state)
    await links.change("repl-1-2", enabled=False, ttl=1.0, description="test: link down")
    views = {v.name: v for v in await links.views()}
    assert views["repl-1-2"].enabled is False

    async def back_up() -> bool:
        views = {v.name: v for v in await links.views()}
        return views["repl-1-2"].enabled is True

    await eventually(back_up, timeout=5)


async def test_unknown_link_is_named(mesh: tuple[Supervisor, MeshState]) -> None:
    _, state = mesh
    with pytest.raises(LinkError, match="no link named 'nope'.*api-1"):
        await Links(state).add_toxic("nope", "latency", attributes={"latency": 1})


async def test_toxiproxy_carries_tcp_links_and_janitor_reverts(tmp_path: Path) -> None:
    binary = require_tool("toxiproxy-server")
    plan = build_plan(base_port=0, tcp_proxy="toxiproxy", toxiproxy_binary=binary)
    supervisor = Supervisor(plan, tmp_path / "state")
    await supervisor.start()
    try:
        state = MeshState.read(tmp_path / "state")
        assert state is not None
        api = supervisor.plan.node("toxiproxy").admin_url
        assert api is not None
        async with Toxiproxy(api) as client:
            carried = set(await client.proxies())
        assert carried == {"dns-tcp", "api-1", "api-2", "repl-1-2", "repl-2-1"}
        assert state.links["ntp-a"].proxy == "proxy"

        await Links(state, actor="test").add_toxic(
            "api-1", "latency", attributes={"latency": 50}, ttl=1.0
        )
        async with Toxiproxy(api) as client:
            assert [t.type for t in await client.toxics("api-1")] == ["latency"]

        async def removed() -> bool:
            async with Toxiproxy(api) as client:
                return await client.toxics("api-1") == []

        await eventually(removed, timeout=5)

        async def journeys_ok() -> bool:
            samples = await scrape(state.nodes["workload"].metrics_url)
            return (
                total(
                    samples, "fallacies_workload_journeys_total", client="resilient", outcome="ok"
                )
                > 0
            )

        await eventually(journeys_ok)
    finally:
        await supervisor.stop()
