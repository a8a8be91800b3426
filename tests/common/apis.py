"""Every HTTP API of the mesh, running in a thread of its own, with the OpenAPI document
each of its sites serves: what the OpenAPI and fuzz tests walk over."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from aiohttp import web

from chaos.compose.toxiproxy_gate import ToxiproxyGate
from chaos.console import app as console_app
from chaos.console.server import ConsoleServer
from chaos.mesh import control
from chaos.mesh.backend import MeshBackend
from chaos.mesh.errors import MeshError
from chaos.mesh.janitor import Janitor
from chaos.mesh.model import MeshPlan, NodePlan, NodeState, NodeStatus
from chaos.mesh.state import LinkInfo, MeshState, NodeInfo
from chaos.proxy import ProxyServer
from chaos.proxy.api import document as proxy_document
from chaos.toxiproxy import Toxiproxy
from services.api import ApiConfig, ApiServer
from services.common import openapi
from services.common.base import Service
from services.common.http import start_site
from services.dns import DNSServer
from services.dns.admin import document as dns_document
from services.ntp import NTPServer
from services.ntp.admin import document as ntp_document


class FakeNode:
    """A node the control API can stop and start without a process behind it."""

    def __init__(self) -> None:
        self.state: NodeState = "running"
        self.pid: int | None = 4242
        self.returncode: int | None = None

    async def stop(self) -> None:
        self.state = "stopped"

    async def kill(self) -> None:
        self.state = "exited"

    async def pause(self) -> None:
        self.state = "paused"

    async def resume(self) -> None:
        self.state = "running"


@dataclass
class FakeMesh:
    """What ``control.create_app`` needs, with the nodes above."""

    plan: MeshPlan
    nodes: dict[str, FakeNode] = field(default_factory=dict)
    janitor: Janitor = field(default_factory=Janitor)
    shutdown_requested: asyncio.Event = field(default_factory=asyncio.Event)

    async def status(self) -> list[NodeStatus]:
        return [NodeStatus.of(n, self.nodes[n.name], healthy=True) for n in self.plan.nodes]

    async def start_node(self, name: str) -> None:
        self.nodes[name].state = "running"


class ControlApi(Service):
    name = "control"

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def endpoints(self) -> dict[str, str]:
        return {"api": f"http://127.0.0.1:{self.port}"}

    async def start(self) -> None:
        plan = MeshPlan(
            host="127.0.0.1",
            control_port=0,
            nodes=tuple(
                NodePlan(name, "dns", {}, "http://127.0.0.1:9/healthz", None, {}, admin_url=url)
                for name, url in (("dns", "http://127.0.0.1:9"), ("ntp-1", None))
            ),
        )
        mesh = FakeMesh(plan, nodes={node.name: FakeNode() for node in plan.nodes})
        self._runner, self.port = await start_site(control.create_app(mesh), "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class _NoMesh:
    """A backend with no mesh to run on: a run started by the fuzz ends in an error."""

    name = "embedded"

    def for_run(self, **options: Any) -> Any:
        raise MeshError("no mesh to run on (the fuzz's console)")


class ConsoleApi(Service):
    """The console over the project's proxy (one link) and the fake control API above."""

    name = "console"

    def __init__(self) -> None:
        self.proxy = ProxyServer(api_port=0)
        self.control = ControlApi()
        self.server: ConsoleServer | None = None
        self.runner: web.AppRunner | None = None
        self._out = tempfile.TemporaryDirectory(prefix="fallacies-console-")

    @property
    def endpoints(self) -> dict[str, str]:
        assert self.server is not None
        return {"api": self.server.url.rstrip("/")}

    async def start(self) -> None:
        await self.proxy.start()
        await self.control.start()
        api = self.proxy.endpoints["api"]
        async with Toxiproxy(api) as client:
            made = await client.create_proxy("api-1", listen="127.0.0.1:0", upstream="127.0.0.1:9")
        control_url = f"http://127.0.0.1:{self.control.port}"
        state = MeshState(
            supervisor_pid=os.getpid(),
            control_url=control_url,
            nodes={
                "dns": NodeInfo("dns", {}, control_url + "/healthz"),
                "ntp-1": NodeInfo("ntp", {}, control_url + "/healthz"),
            },
            links={"api-1": LinkInfo("tcp", made.listen, "127.0.0.1:9", "proxy", api)},
        )
        backend = cast(MeshBackend, _NoMesh())
        self.server = ConsoleServer(backend, state, port=0, out_root=Path(self._out.name))
        await self.server.start()
        self.runner = self.server.runner

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        await self.control.stop()
        await self.proxy.stop()
        self._out.cleanup()


class GatedProxy(Service):
    """The compose mesh's gate in front of the project's proxy (standing in for Toxiproxy)."""

    name = "gate"

    def __init__(self) -> None:
        self.proxy = ProxyServer(api_port=0)
        self.gate: ToxiproxyGate | None = None

    @property
    def endpoints(self) -> dict[str, str]:
        assert self.gate is not None
        return {"api": self.gate.endpoints["api"]}

    async def start(self) -> None:
        await self.proxy.start()
        self.gate = ToxiproxyGate(upstream=self.proxy.endpoints["api"], port=0)
        await self.gate.start()

    async def stop(self) -> None:
        if self.gate is not None:
            await self.gate.stop()
        await self.proxy.stop()


def _api_server() -> ApiServer:
    return ApiServer(
        config=ApiConfig.from_dict(
            {"replica_id": "api-1", "port": 0, "admin_port": 0, "admin_token": None}
        )
    )


@dataclass(frozen=True)
class Target:
    make: Callable[[], Service]
    sites: Mapping[str, Callable[[], dict[str, Any]]]
    """Endpoint name → the document the site at that endpoint serves."""
    health: str


TARGETS: dict[str, Target] = {
    "dns": Target(lambda: DNSServer(port=0, admin_port=0), {"admin": dns_document}, "/healthz"),
    "ntp": Target(lambda: NTPServer(port=0, admin_port=0), {"admin": ntp_document}, "/healthz"),
    "proxy": Target(lambda: ProxyServer(api_port=0), {"api": proxy_document}, "/version"),
    "gate": Target(GatedProxy, {"api": proxy_document}, "/version"),
    "control": Target(ControlApi, {"api": control.document}, "/healthz"),
    "console": Target(ConsoleApi, {"api": console_app.document}, "/healthz"),
    "api": Target(
        _api_server,
        {
            "http": lambda: openapi.load("services.api"),
            "admin": lambda: openapi.load("services.api", "openapi-admin.yaml"),
        },
        "/healthz",
    ),
}


class Running:
    """A service on an event loop of its own thread, so hypothesis can drive it synchronously."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Running:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.service.start(), self.loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.service.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def apps(self) -> Iterator[tuple[str, web.Application]]:
        """(base URL, app) of every HTTP site the service runs itself."""
        runners: list[web.AppRunner] = []
        for value in vars(self.service).values():
            if isinstance(value, web.AppRunner):
                runners.append(value)
            elif isinstance(value, list):
                runners += [v for v in value if isinstance(v, web.AppRunner)]
        for runner in runners:
            for site in runner.sites:
                server = getattr(site, "_server", None)
                host, port = server.sockets[0].getsockname()[:2]  # type: ignore[union-attr]
                yield f"http://{host}:{port}", runner.app
