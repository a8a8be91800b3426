"""Starts the mesh's processes in order, watches their health, and stops them all.

Order matters: the workload starts last, after the replicas are registered in DNS,
so its first journey already finds a complete mesh.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from chaos.embedded.ports import check_free
from chaos.embedded.process import NodeProcess
from chaos.mesh.control import create_app
from chaos.mesh.errors import MeshStartError
from chaos.mesh.janitor import Janitor
from chaos.mesh.model import HEALTH_TIMEOUT_S, MeshPlan, NodePlan, NodeStatus
from chaos.mesh.state import MeshState
from services.common.base import Service
from services.common.http import start_site

__all__ = ["Supervisor"]


class Supervisor(Service):
    name = "mesh"

    def __init__(self, plan: MeshPlan, state_dir: Path, *, start_timeout_s: float = 15.0) -> None:
        self.plan = plan
        self.state_dir = state_dir
        self.run_dir = state_dir / "run"
        self.start_timeout_s = start_timeout_s
        self.nodes = {
            node.name: NodeProcess(node.name, node.kind, node.config, self.run_dir, node.command)
            for node in plan.nodes
        }
        self.janitor = Janitor()
        self._session: aiohttp.ClientSession | None = None
        self._control: web.AppRunner | None = None
        self.shutdown_requested = asyncio.Event()
        self.started_in_s: float | None = None

    @property
    def endpoints(self) -> dict[str, str]:
        return {"control": self.plan.control_url}

    async def start(self) -> None:
        began = time.monotonic()
        check_free(self.plan.host, self.plan.ports())
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_S))
        self._control, _ = await start_site(
            create_app(self), self.plan.host, self.plan.control_port, what="mesh control API"
        )
        try:
            first = [n for n in self.plan.nodes if n.kind != "workload"]
            await self._start_group(first)
            await self._populate_toxiproxy()
            await self._register_dns()
            await self._start_group([n for n in self.plan.nodes if n.kind == "workload"])
        except BaseException:
            await self.stop()
            raise
        self.started_in_s = time.monotonic() - began
        self._write_state()

    async def _start_group(self, group: list[NodePlan]) -> None:
        for node in group:
            await self.nodes[node.name].start()
        await asyncio.gather(*(self._await_healthy(node) for node in group))

    async def _await_healthy(self, node: NodePlan) -> None:
        proc = self.nodes[node.name]
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if proc.state == "exited":
                raise MeshStartError(
                    f"{node.name} exited with code {proc.returncode} while starting:\n"
                    f"{proc.log_tail()}"
                )
            if await self._healthy(node):
                proc.mark_running()
                return
            await asyncio.sleep(0.02)
        raise MeshStartError(
            f"{node.name} was not healthy within {self.start_timeout_s:.0f} s "
            f"({node.health_url}):\n{proc.log_tail()}"
        )

    async def _healthy(self, node: NodePlan) -> bool:
        assert self._session is not None
        try:
            async with self._session.get(node.health_url) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def _register_dns(self) -> None:
        """Point the API's SRV and A records at the replicas' actual ports."""
        assert self._session is not None
        admin = self.plan.node("dns").health_url.rsplit("/", 1)[0]
        for record in self.plan.records:
            url = f"{admin}/records/{record['name']}/{record['type']}"
            if "values" in record:
                request = self._session.put(
                    url, json={"ttl": record["ttl"], "values": record["values"]}
                )
            else:
                request = self._session.patch(url, json={"ttl": record["ttl"]})
            async with request as response:
                if response.status >= 300:
                    raise MeshStartError(
                        f"dns refused {record['name']} {record['type']}: {await response.text()}"
                    )

    async def _populate_toxiproxy(self) -> None:
        """Real Toxiproxy takes its links over its API once it answers."""
        links = [link.to_populate() for link in self.plan.links if link.proxy == "toxiproxy"]
        if not links:
            return
        from chaos.toxiproxy import Toxiproxy, ToxiproxyError

        api = self.plan.node("toxiproxy").admin_url
        assert api is not None
        try:
            async with Toxiproxy(api, actor="fallacies-mesh") as client:
                await client.populate(links)
        except ToxiproxyError as exc:
            raise MeshStartError(f"toxiproxy refused the links: {exc}") from exc

    def _write_state(self) -> None:
        MeshState.from_plan(
            self.plan,
            supervisor_pid=os.getpid(),
            pids={name: proc.pid for name, proc in self.nodes.items()},
        ).write(self.state_dir)

    async def status(self) -> list[NodeStatus]:
        async def one(node: NodePlan) -> NodeStatus:
            proc = self.nodes[node.name]
            healthy = proc.state == "running" and await self._healthy(node)
            return NodeStatus.of(node, proc, healthy=healthy)

        return list(await asyncio.gather(*(one(node) for node in self.plan.nodes)))

    async def start_node(self, name: str) -> None:
        await self.nodes[name].start()
        await self._await_healthy(self.plan.node(name))
        if self.plan.node(name).kind == "dns":
            await self._register_dns()  # a restarted server comes back with its default zone
        self._write_state()

    async def stop(self) -> None:
        await self.janitor.close()
        await asyncio.gather(*(proc.stop() for proc in reversed(self.nodes.values())))
        if self._control is not None:
            await self._control.cleanup()
            self._control = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        state = MeshState.read(self.state_dir)
        if state is not None and state.supervisor_pid == os.getpid():
            MeshState.remove(self.state_dir)
