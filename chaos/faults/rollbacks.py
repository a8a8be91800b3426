"""Rollback actions: put the whole mesh back, whatever faults did (or a dead runner left).

An experiment's ``rollbacks`` name these; they run after success, failure and
Ctrl-C alike, so each one is idempotent and cheap when there is nothing to undo,
and returns a short line for the journal::

    reset_links    every proxy: all toxics removed, every link enabled, on its planned
                   port and upstream again
    start_nodes    every stopped or crashed node started, every paused one resumed
    reset_clocks   every NTP server tells the truth again
    restore_keys   the original API request key active again on api-1 and api-2
    restore_dns    the mesh's own records (replica A records, _api._tcp SRV) registered again
    activate_engines  every drained engine of a Swarm stack active again (none elsewhere)

None takes arguments: ``validate_rollback`` says so before anything runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from chaos.faults._common import CONTROL_TIMEOUT_S, admin_url, http
from chaos.faults.base import FaultContext, FaultSpecError
from chaos.faults.dns_record import restore_mesh_records
from chaos.faults.key_rotation import restore_original_key

Rollback = Callable[[FaultContext, dict[str, Any]], Awaitable[str]]

__all__ = ["ROLLBACKS", "Rollback", "validate_rollback"]


async def reset_links(ctx: FaultContext, args: dict[str, Any]) -> str:
    moved = await ctx.links.reset()
    tail = f"; moved back {', '.join(moved)}" if moved else ""
    apis = len(ctx.state.proxy_apis())
    return f"reset {len(ctx.state.links)} links on {apis} proxy API(s){tail}"


async def start_nodes(ctx: FaultContext, args: dict[str, Any]) -> str:
    nodes = await http(ctx, "GET", f"{ctx.state.control_url}/nodes")
    done: list[str] = []
    for node in nodes or []:
        action = {"stopped": "start", "exited": "start", "paused": "resume"}.get(node["state"])
        if action is None:
            continue
        url = f"{ctx.state.control_url}/nodes/{node['name']}/{action}"
        await http(ctx, "POST", url, timeout_s=CONTROL_TIMEOUT_S)
        done.append(f"{action} {node['name']}")
        if node["name"] == "dns" and action == "start":
            await restore_mesh_records(ctx)
    return ", ".join(done) if done else "every node was running"


async def reset_clocks(ctx: FaultContext, args: dict[str, Any]) -> str:
    servers = sorted(name for name, node in ctx.state.nodes.items() if node.kind == "ntp")
    for name in servers:
        await http(ctx, "POST", f"{admin_url(ctx.state, name)}/clock/reset")
    return f"reset the clocks of {', '.join(servers)}"


async def restore_keys(ctx: FaultContext, args: dict[str, Any]) -> str:
    done = await restore_original_key(ctx)
    return ", ".join(f"{replica}: {how}" for replica, how in done.items())


async def restore_dns(ctx: FaultContext, args: dict[str, Any]) -> str:
    changed = await restore_mesh_records(ctx)
    return f"restored {', '.join(changed)}" if changed else "the mesh's records were in place"


async def activate_engines(ctx: FaultContext, args: dict[str, Any]) -> str:
    engines = await http(ctx, "GET", f"{ctx.state.control_url}/engines", missing_ok=True)
    if engines is None:
        return "no engines: this mesh runs on one host"
    drained = [e["hostname"] for e in engines if e.get("availability") != "active"]
    for hostname in drained:
        url = f"{ctx.state.control_url}/engines/{hostname}/activate"
        await http(ctx, "POST", url, timeout_s=CONTROL_TIMEOUT_S)
    return f"activated {', '.join(drained)}" if drained else "every engine was active"


ROLLBACKS: dict[str, Rollback] = {
    "reset_links": reset_links,
    "start_nodes": start_nodes,
    "reset_clocks": reset_clocks,
    "restore_keys": restore_keys,
    "restore_dns": restore_dns,
    "activate_engines": activate_engines,
}


def validate_rollback(action: str, args: Mapping[str, Any]) -> None:
    """Check a rollback before the run; ``FaultSpecError`` names the field."""
    if action not in ROLLBACKS:
        raise FaultSpecError(
            "action", f"unknown rollback {action!r}; use one of {', '.join(ROLLBACKS)}"
        )
    for key in args:
        raise FaultSpecError(f"args.{key}", f"{action} takes no arguments")
