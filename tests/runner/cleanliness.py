"""What "the mesh is as we found it" means, checked against the nodes themselves."""

from __future__ import annotations

from typing import Any

import aiohttp

from chaos.mesh.state import MeshState
from chaos.toxiproxy import Toxiproxy


async def leftovers(state: MeshState) -> list[str]:
    """Every fault still in place: toxics, cut or moved links, stopped nodes, lying clocks,
    new keys, a changed catalog, DNS records that no longer match the links."""
    found: list[str] = []
    for api in {link.api for link in state.links.values()}:
        async with Toxiproxy(api, headers=state.admin_headers) as client:
            for proxy in (await client.proxies()).values():
                if not proxy.enabled:
                    found.append(f"link {proxy.name} is down")
                planned = state.links[proxy.name]
                if proxy.upstream != planned.upstream:
                    found.append(f"link {proxy.name} points at {proxy.upstream}")
                if _port(proxy.listen) != _port(planned.listen):
                    found.append(f"link {proxy.name} listens on {proxy.listen}")
                found += [f"toxic {t.name} on {proxy.name}" for t in proxy.toxics]
    async with state.session(5) as session:
        async with session.get(f"{state.control_url}/nodes") as response:
            down = {
                node["name"]: node["state"] if node["state"] != "running" else "unhealthy"
                for node in await response.json()
                if node["state"] != "running" or not node["healthy"]
            }
        found += [f"node {name} is down ({how})" for name, how in sorted(down.items())]
        for name in state.nodes:
            if name in down:
                continue
            try:
                found += await _node_leftovers(session, state, name)
            except aiohttp.ClientConnectionError:
                # Stopped between /nodes and this call: a fault landed meanwhile.
                found.append(f"node {name} does not answer")
        dns_admin = state.nodes["dns"].admin_url
        srv = await _get(session, f"{dns_admin}/records/_api._tcp/SRV")
        ports = sorted(int(v["port"]) for v in srv["values"])
        expected = sorted(
            int(state.links[name].listen.rsplit(":", 1)[1]) for name in ("api-1", "api-2")
        )
        if ports != expected:
            found.append(f"SRV lists ports {ports}, not {expected}")
    return found


async def _node_leftovers(session: aiohttp.ClientSession, state: MeshState, name: str) -> list[str]:
    found: list[str] = []
    node = state.nodes[name]
    if node.kind == "ntp":
        clock = await _get(session, f"{node.admin_url}/clock")
        if clock.get("lying"):
            found.append(f"{name} lies: {clock}")
    if node.kind == "api" and name != "rogue":
        keys = await _get(session, f"{node.admin_url}/admin/keys")
        active = {
            k["kid"] for k in keys["keys"] if k["use"] == "request" and k["status"] == "active"
        }
        if state.secrets["key_id"] not in active:
            found.append(f"{name} request keys are {sorted(active)}")
        catalog = await _get(session, f"{node.admin_url}/admin/catalog")
        if catalog["version"] != 1:
            found.append(f"{name} serves catalog version {catalog['version']}")
    return found


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


async def _get(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        response.raise_for_status()
        return await response.json()
