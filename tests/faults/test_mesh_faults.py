"""Node, DNS, clock and key faults on a real embedded mesh; the rollbacks that undo them."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.faults import FAULTS, FaultContext
from chaos.faults.base import FaultError
from chaos.faults.dns_record import mesh_records
from chaos.faults.rollbacks import ROLLBACKS
from services.api.headers import ADMIN_TOKEN
from tests.faults.conftest import check_move, eventually, get_json, janitor_ids, step

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def node_states(ctx: FaultContext) -> dict[str, str]:
    nodes = await get_json(ctx, f"{ctx.state.control_url}/nodes")
    return {node["name"]: node["state"] for node in nodes}


async def rrset(ctx: FaultContext, name: str, rdtype: str) -> dict[str, Any] | None:
    dns = ctx.state.nodes["dns"].admin_url
    found: dict[str, Any] | None = await get_json(ctx, f"{dns}/records/{name}/{rdtype}")
    return found


async def clock(ctx: FaultContext, node: str) -> dict[str, Any]:
    snapshot: dict[str, Any] = await get_json(ctx, f"{ctx.state.nodes[node].admin_url}/clock")
    return snapshot


async def request_keys(ctx: FaultContext, replica: str) -> dict[str, str]:
    """``{kid: status}`` of the replica's request keys."""
    url = f"{ctx.state.nodes[replica].admin_url}/admin/keys"
    listing = await get_json(ctx, url, **{ADMIN_TOKEN: ctx.state.secrets["admin_token"]})
    return {k["kid"]: k["status"] for k in listing["keys"] if k["use"] == "request"}


def original_kid(ctx: FaultContext) -> str:
    return ctx.state.secrets["key_id"]


async def mesh_records_in_place(ctx: FaultContext) -> bool:
    for record in mesh_records(ctx.state):
        found = await rrset(ctx, record["name"], record["type"])
        if found is None or found["ttl"] != record["ttl"]:
            return False
        if "values" in record and found["values"] != record["values"]:
            return False
    return True


# -- nodes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "node", "state"),
    [
        ("node_stop", "api-2", "stopped"),
        ("node_kill", "rogue", "exited"),
        ("node_pause", "ntp-c", "paused"),
    ],
)
async def test_node_fault_then_revert(ctx: FaultContext, kind: str, node: str, state: str) -> None:
    fault_step = step(kind, node)
    applied = await FAULTS[kind].apply(ctx, fault_step, 60)
    assert (await node_states(ctx))[node] == state
    assert applied["janitor"] in await janitor_ids(ctx)

    await FAULTS[kind].revert(ctx, fault_step, applied)
    assert (await node_states(ctx))[node] == "running"
    assert applied["janitor"] not in await janitor_ids(ctx)
    await FAULTS[kind].revert(ctx, fault_step, applied)  # twice is fine
    assert (await node_states(ctx))[node] == "running"


@pytest.mark.parametrize(("kind", "node"), [("node_stop", "ntp-b"), ("node_pause", "api-1")])
async def test_node_fault_expires(ctx: FaultContext, kind: str, node: str) -> None:
    await FAULTS[kind].apply(ctx, step(kind, node), 1)
    assert (await node_states(ctx))[node] != "running"

    async def running() -> bool:
        return (await node_states(ctx))[node] == "running"

    await eventually(running, timeout=4)


async def test_restarting_dns_keeps_the_mesh_records(ctx: FaultContext) -> None:
    """The dns node comes back with its built-in zone; the revert registers the mesh's again."""
    fault_step = step("node_stop", "dns")
    applied = await FAULTS["node_stop"].apply(ctx, fault_step, 60)
    await FAULTS["node_stop"].revert(ctx, fault_step, applied)
    assert await mesh_records_in_place(ctx)


async def test_an_engine_drain_on_one_host_says_it_needs_the_swarm(ctx: FaultContext) -> None:
    with pytest.raises(FaultError, match="engine_drain needs the Swarm stack"):
        await FAULTS["engine_drain"].apply(ctx, step("engine_drain", "api-1"), 30)
    assert not await janitor_ids(ctx)
    detail = await ROLLBACKS["activate_engines"](ctx, {})
    assert detail == "no engines: this mesh runs on one host"


# -- DNS records ----------------------------------------------------------------------


async def test_srv_moved_to_one_replica_then_back(ctx: FaultContext) -> None:
    before = await rrset(ctx, "_api._tcp", "SRV")
    assert before is not None and len(before["values"]) == 2
    fault_step = step("dns_record", "_api._tcp", only="api-2", ttl=1)
    applied = await FAULTS["dns_record"].apply(ctx, fault_step, 60)
    moved = await rrset(ctx, "_api._tcp", "SRV")
    api_2_port = int(ctx.state.links["api-2"].listen.rsplit(":", 1)[1])
    assert moved is not None and moved["ttl"] == 1
    assert [(v["target"], v["port"]) for v in moved["values"]] == [("api-2.mesh.test.", api_2_port)]
    assert applied["janitor"] in await janitor_ids(ctx)

    await FAULTS["dns_record"].revert(ctx, fault_step, applied)
    assert await rrset(ctx, "_api._tcp", "SRV") == before
    assert applied["janitor"] not in await janitor_ids(ctx)
    await FAULTS["dns_record"].revert(ctx, fault_step, applied)
    assert await rrset(ctx, "_api._tcp", "SRV") == before


async def test_new_record_is_deleted_and_deleted_one_comes_back(ctx: FaultContext) -> None:
    added_step = step("dns_record", "extra", values=["127.0.0.7"], ttl=3)
    added = await FAULTS["dns_record"].apply(ctx, added_step, 60)
    assert (await rrset(ctx, "extra", "A") or {}).get("values") == ["127.0.0.7"]
    await FAULTS["dns_record"].revert(ctx, added_step, added)
    assert await rrset(ctx, "extra", "A") is None

    before = await rrset(ctx, "api-1", "A")
    deleted_step = step("dns_record", "api-1", delete=True)
    deleted = await FAULTS["dns_record"].apply(ctx, deleted_step, 60)
    assert await rrset(ctx, "api-1", "A") is None
    await FAULTS["dns_record"].revert(ctx, deleted_step, deleted)
    assert await rrset(ctx, "api-1", "A") == before


async def test_dns_record_expires(ctx: FaultContext) -> None:
    before = await rrset(ctx, "api-2", "A")
    await FAULTS["dns_record"].apply(ctx, step("dns_record", "api-2", values="127.0.0.8"), 1)
    assert (await rrset(ctx, "api-2", "A") or {}).get("values") == ["127.0.0.8"]

    async def back() -> bool:
        return await rrset(ctx, "api-2", "A") == before

    await eventually(back, timeout=3)


# -- clocks ---------------------------------------------------------------------------


async def test_clock_skew_then_revert(ctx: FaultContext) -> None:
    fault_step = step("clock_skew", "ntp-a", offset_s=5.0, drift_ppm=100, stratum=3)
    applied = await FAULTS["clock_skew"].apply(ctx, fault_step, 60)
    lying = await clock(ctx, "ntp-a")
    assert lying["lying"] and lying["offset"] == 5.0 and lying["stratum"] == 3
    assert lying["drift_ppm"] == 100
    assert applied["janitor"] in await janitor_ids(ctx)

    await FAULTS["clock_skew"].revert(ctx, fault_step, applied)
    assert not (await clock(ctx, "ntp-a"))["lying"]
    assert applied["janitor"] not in await janitor_ids(ctx)


async def test_clock_skew_expires(ctx: FaultContext) -> None:
    await FAULTS["clock_skew"].apply(ctx, step("clock_skew", "ntp-b", offset_s=-2), 1)
    assert (await clock(ctx, "ntp-b"))["offset"] == -2

    async def honest() -> bool:
        return not (await clock(ctx, "ntp-b"))["lying"]

    await eventually(honest, timeout=3)


# -- keys -----------------------------------------------------------------------------


async def test_key_rotation_then_revert(ctx: FaultContext) -> None:
    fault_step = step("key_rotation", "api")
    applied = await FAULTS["key_rotation"].apply(ctx, fault_step, 60)
    for replica in ("api-1", "api-2"):
        keys = await request_keys(ctx, replica)
        assert keys[applied["kid"]] == "active"
        assert keys[original_kid(ctx)] != "active"

    await FAULTS["key_rotation"].revert(ctx, fault_step, applied)
    for replica in ("api-1", "api-2"):
        assert (await request_keys(ctx, replica))[original_kid(ctx)] == "active"
    assert not set(applied["janitor"]) & await janitor_ids(ctx)
    await FAULTS["key_rotation"].revert(ctx, fault_step, applied)  # nothing left to do


async def test_key_rotation_expires(ctx: FaultContext) -> None:
    try:
        applied = await FAULTS["key_rotation"].apply(ctx, step("key_rotation", "api"), 2)
        # It happened: the new key is the active one on both replicas, the original not.
        for replica in ("api-1", "api-2"):
            keys = await request_keys(ctx, replica)
            assert keys.get(applied["kid"]) == "active", keys
            assert keys.get(original_kid(ctx)) != "active", keys

        async def original_back() -> bool:
            keys = [await request_keys(ctx, r) for r in ("api-1", "api-2")]
            return all(k.get(original_kid(ctx)) == "active" for k in keys)

        await eventually(original_back, timeout=5)
    finally:
        await ROLLBACKS["restore_keys"](ctx, {})


# -- rollbacks ------------------------------------------------------------------------


async def test_start_nodes_rollback(ctx: FaultContext) -> None:
    await FAULTS["node_stop"].apply(ctx, step("node_stop", "api-1"), 60)
    await FAULTS["node_pause"].apply(ctx, step("node_pause", "ntp-a"), 60)
    detail = await ROLLBACKS["start_nodes"](ctx, {})
    assert "start api-1" in detail and "resume ntp-a" in detail
    assert set((await node_states(ctx)).values()) == {"running"}
    assert await ROLLBACKS["start_nodes"](ctx, {}) == "every node was running"


async def test_reset_clocks_rollback(ctx: FaultContext) -> None:
    await FAULTS["clock_skew"].apply(ctx, step("clock_skew", "ntp-a", offset_s=9), 60)
    await FAULTS["clock_skew"].apply(ctx, step("clock_skew", "ntp-c", stratum=9), 60)
    detail = await ROLLBACKS["reset_clocks"](ctx, {})
    assert detail == "reset the clocks of ntp-a, ntp-b, ntp-c"
    for node in ("ntp-a", "ntp-b", "ntp-c"):
        assert not (await clock(ctx, node))["lying"]


async def test_restore_keys_rollback(ctx: FaultContext) -> None:
    await FAULTS["key_rotation"].apply(ctx, step("key_rotation", "api"), 60)
    detail = await ROLLBACKS["restore_keys"](ctx, {})
    assert "api-1:" in detail and "api-2:" in detail and "kept" not in detail
    for replica in ("api-1", "api-2"):
        assert (await request_keys(ctx, replica))[original_kid(ctx)] == "active"
    assert await ROLLBACKS["restore_keys"](ctx, {}) == "api-1: kept, api-2: kept"


async def test_restore_dns_rollback(ctx: FaultContext) -> None:
    await FAULTS["dns_record"].apply(ctx, step("dns_record", "_api._tcp", only="api-1"), 60)
    await FAULTS["dns_record"].apply(ctx, step("dns_record", "api-2", values="127.0.0.5"), 60)
    detail = await ROLLBACKS["restore_dns"](ctx, {})
    assert "_api._tcp.mesh.test. SRV" in detail and "api-2.mesh.test. A" in detail
    assert await mesh_records_in_place(ctx)
    assert await ROLLBACKS["restore_dns"](ctx, {}) == "the mesh's records were in place"


# -- topology and data --------------------------------------------------------------


async def test_move_then_revert(ctx: FaultContext) -> None:
    await check_move(ctx, 60)


async def test_move_expires(ctx: FaultContext) -> None:
    await check_move(ctx, 2)


async def catalog_versions(ctx: FaultContext) -> list[int]:
    versions = []
    for replica in ("api-1", "api-2"):
        url = f"{ctx.state.nodes[replica].admin_url}/admin/catalog"
        doc = await get_json(ctx, url, **{ADMIN_TOKEN: ctx.state.secrets["admin_token"]})
        versions.append(int(doc["version"]))
    return versions


async def test_catalog_update_publishes_new_versions_then_puts_the_first_back(
    ctx: FaultContext,
) -> None:
    assert await catalog_versions(ctx) == [1, 1]
    fault_step = step("catalog_update", "api", every_s=0.5)
    applied = await FAULTS["catalog_update"].apply(ctx, fault_step, 60)

    async def moved_on() -> bool:
        versions = await catalog_versions(ctx)
        return versions[0] >= 3 and versions[0] == versions[1]

    await eventually(moved_on, timeout=10)
    assert set(applied["janitor"]) <= await janitor_ids(ctx)
    await FAULTS["catalog_update"].revert(ctx, fault_step, applied)
    assert await catalog_versions(ctx) == [1, 1]
    assert not set(applied["janitor"]) & await janitor_ids(ctx)
