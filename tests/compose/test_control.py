"""The compose control service over a fake Docker engine: the embedded control API's routes,
node actions mapped to container operations, the janitor reverting them. No daemon."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from chaos.compose.control import (
    ONEOFF_LABEL,
    PROJECT_LABEL,
    SERVICE_LABEL,
    ControlService,
    DockerMesh,
)
from chaos.mesh.errors import MeshStartError
from chaos.mesh.model import MeshPlan, NodePlan
from services.common.admin_token import HEADER
from services.common.http import start_site

PROJECT = "fallacies-test"
TOKEN = "control-test-token"


class FakeContainer:
    """The slice of ``docker.models.containers.Container`` the control service uses."""

    def __init__(
        self, service: str, *, project: str = PROJECT, network_mode: str = "fallacies_mesh"
    ) -> None:
        self.labels = {PROJECT_LABEL: project, SERVICE_LABEL: service, ONEOFF_LABEL: "False"}
        self.id = f"{project}-{service}-id"
        self.name = f"{project}-{service}-1"
        self.network_mode = network_mode
        self.status = "running"
        self.exit_code = 0
        self.crash_on_start = False
        self.calls: list[str] = []

    @property
    def attrs(self) -> dict[str, Any]:
        alive = self.status in ("running", "paused")
        return {
            "State": {
                "Status": self.status,
                "Pid": 4242 if alive else 0,
                "ExitCode": self.exit_code,
                "Health": {"Status": "healthy" if alive else "unhealthy"},
            },
            "HostConfig": {"NetworkMode": self.network_mode},
        }

    def start(self) -> None:
        self.calls.append("start")
        self.status, self.exit_code = ("exited", 1) if self.crash_on_start else ("running", 0)

    def stop(self, timeout: int = 10) -> None:
        self.calls.append("stop")
        assert self.status != "paused", "docker stop of a paused container: unpause first"
        self.status, self.exit_code = "exited", 143

    def kill(self) -> None:
        self.calls.append("kill")
        self.status, self.exit_code = "exited", 137

    def pause(self) -> None:
        self.calls.append("pause")
        self.status = "paused"

    def unpause(self) -> None:
        self.calls.append("unpause")
        self.status = "running"

    def restart(self, timeout: int = 10) -> None:
        self.calls.append("restart")
        self.status, self.exit_code = "running", 0


class FakeContainers:
    def __init__(self, containers: list[FakeContainer]) -> None:
        self.items = containers

    def list(self, **options: Any) -> list[FakeContainer]:
        """``containers.list(all=..., filters={"label": ["k=v", ...]})``."""
        wanted = dict(label.split("=", 1) for label in options.get("filters", {}).get("label", []))
        return [
            c
            for c in self.items
            if (options.get("all") or c.status == "running")
            and all(c.labels.get(k) == v for k, v in wanted.items())
        ]


class FakeDocker:
    def __init__(self, containers: list[FakeContainer]) -> None:
        self.containers = FakeContainers(containers)


CALLS: list[str] = []


@pytest.fixture
async def health() -> AsyncIterator[str]:
    """An admin API that every node of the fake mesh shares: /healthz answers 200, and
    ``/{node}/...`` (each node's admin URL) records the calls the janitor makes."""

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def admin(request: web.Request) -> web.Response:
        CALLS.append(f"{request.method} {request.path}")
        return web.json_response({})

    CALLS.clear()
    app = web.Application()
    app.router.add_get("/healthz", ok)
    app.router.add_route("*", "/{node}/{tail:.*}", admin)
    runner, port = await start_site(app, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
def containers() -> dict[str, FakeContainer]:
    return {
        "api-1": FakeContainer("api-1"),
        "dns": FakeContainer("dns"),
        "other": FakeContainer("api-1", project="someone-else"),
        # Like toxiproxy-gate in Toxiproxy's: a container in dns's network namespace.
        "sidecar": FakeContainer("dns-sidecar", network_mode=f"container:{PROJECT}-dns-id"),
    }


@pytest.fixture
async def control(
    health: str, containers: dict[str, FakeContainer]
) -> AsyncIterator[tuple[aiohttp.ClientSession, DockerMesh]]:
    nodes = tuple(
        NodePlan(
            name=name,
            kind=kind,
            config={},
            health_url=f"{health}/healthz",
            metrics_url=f"{health}/metrics",
            listen={"http": f"172.30.0.9:{8000 + i}"},
            admin_url=f"{health}/{name}",
        )
        for i, (name, kind) in enumerate((("api-1", "api"), ("dns", "dns"), ("ntp-a", "ntp")))
    )
    plan = MeshPlan(host="127.0.0.1", control_port=0, nodes=nodes)
    docker = FakeDocker(list(containers.values()))
    mesh = DockerMesh(plan, docker, project=PROJECT, start_timeout_s=2)  # type: ignore[arg-type]
    service = ControlService(mesh, host="127.0.0.1", port=0, admin_token=TOKEN)
    await service.start()
    try:
        async with aiohttp.ClientSession(
            base_url=service.endpoints["control"], headers={HEADER: TOKEN}
        ) as session:
            yield session, mesh
    finally:
        await service.stop()


async def test_every_route_but_healthz_needs_the_admin_token(control) -> None:
    session, _ = control
    async with session.get("/healthz") as response:
        base = str(response.url.origin())
    async with aiohttp.ClientSession(base_url=base) as anonymous:
        async with anonymous.get("/healthz") as response:
            assert response.status == 200
        for method, path in (("GET", "/nodes"), ("POST", "/nodes/dns/stop"), ("GET", "/janitor")):
            async with anonymous.request(method, path, headers={HEADER: "guess"}) as response:
                assert response.status == 401, path
    assert (await nodes(session))["dns"]["state"] == "running"


async def nodes(session: aiohttp.ClientSession) -> dict[str, dict[str, Any]]:
    async with session.get("/nodes") as response:
        assert response.status == 200
        return {node["name"]: node for node in await response.json()}


async def act(session: aiohttp.ClientSession, path: str, status: int = 200) -> dict[str, Any]:
    async with session.post(path) as response:
        body: dict[str, Any] = await response.json()
        assert response.status == status, body
        return body


async def test_nodes_reports_container_state_and_live_health(control, containers) -> None:
    session, _ = control
    found = await nodes(session)
    assert found["api-1"]["state"] == "running" and found["api-1"]["healthy"] is True
    assert found["api-1"]["pid"] == 4242
    assert found["ntp-a"]["state"] == "stopped"  # no container at all
    assert found["ntp-a"]["healthy"] is False
    containers["dns"].status, containers["dns"].exit_code = "exited", 137
    assert (await nodes(session))["dns"]["state"] == "exited"  # a crash
    containers["dns"].exit_code = 0
    assert (await nodes(session))["dns"]["state"] == "stopped"  # a clean exit
    containers["dns"].status = "restarting"
    assert (await nodes(session))["dns"]["state"] == "starting"
    containers["dns"].status = "paused"
    found = await nodes(session)
    assert found["dns"]["state"] == "paused" and found["dns"]["healthy"] is False


async def test_stop_then_start_uses_the_container(control, containers) -> None:
    session, _ = control
    body = await act(session, "/nodes/api-1/stop")
    assert body["state"] == "stopped" and body["pid"] is None
    assert containers["api-1"].calls == ["stop"]
    assert containers["other"].calls == []  # another project's container is never touched
    body = await act(session, "/nodes/api-1/start")
    assert body["state"] == "running"
    assert containers["api-1"].calls == ["stop", "start"]
    await act(session, "/nodes/api-1/start")  # already running: a no-op
    assert containers["api-1"].calls == ["stop", "start"]


async def test_starting_a_node_restarts_what_shares_its_network_namespace(
    control, containers
) -> None:
    session, _ = control
    await act(session, "/nodes/api-1/stop")
    await act(session, "/nodes/api-1/start")
    assert containers["sidecar"].calls == []
    await act(session, "/nodes/dns/stop")
    await act(session, "/nodes/dns/start")
    assert containers["sidecar"].calls == ["restart"]


async def test_kill_with_ttl_is_reverted_by_the_janitor(control, containers) -> None:
    session, _ = control
    body = await act(session, "/nodes/dns/kill?ttl=0.2")
    assert body["state"] == "exited"
    assert body["revert"]["description"] == "start dns"
    async with session.get("/janitor") as response:
        assert [job["description"] for job in await response.json()] == ["start dns"]
    await asyncio.sleep(0.6)
    assert containers["dns"].calls == ["kill", "start"]
    assert (await nodes(session))["dns"]["state"] == "running"


async def test_pause_with_ttl_resumes_and_stop_unpauses_first(control, containers) -> None:
    session, _ = control
    assert (await act(session, "/nodes/api-1/pause?ttl=0.2"))["state"] == "paused"
    await asyncio.sleep(0.5)
    assert containers["api-1"].calls == ["pause", "unpause"]
    await act(session, "/nodes/api-1/pause")
    assert (await act(session, "/nodes/api-1/stop"))["state"] == "stopped"
    assert containers["api-1"].calls[-2:] == ["unpause", "stop"]


async def test_routes_refuse_what_the_supervisor_refuses(control) -> None:
    session, _ = control
    await act(session, "/nodes/nope/stop", status=404)
    await act(session, "/nodes/dns/explode", status=400)
    await act(session, "/nodes/dns/stop?ttl=-1", status=400)
    job = {"due_in_s": 5, "method": "DELETE", "url": "http://example.invalid/x"}
    async with session.post("/janitor", json=job) as response:
        assert response.status == 400
        assert (await response.json())["field"] == "url"


async def test_a_web_page_cannot_stop_a_node(control, containers) -> None:
    session, _ = control
    async with session.get("/nodes") as response:
        before = [node["state"] for node in await response.json()]
    for headers in (
        {"Content-Type": "text/plain", "Origin": "http://evil.example"},
        {"Host": "rebound.evil.example"},
    ):
        async with session.post("/nodes/dns/stop", headers=headers) as response:
            assert response.status == 403
    async with session.get("/nodes") as response:
        assert [node["state"] for node in await response.json()] == before


async def test_malformed_janitor_bodies_are_a_400(control) -> None:
    session, _ = control
    for data, why in (
        (b"[" * 50_000 + b"]" * 50_000, "nested"),
        (b'{"url": "\xff"}', "UTF-8"),
        (b'{"url": "\\udc80"}', "surrogate"),
    ):
        async with session.post("/janitor", data=data) as response:
            assert response.status == 400, data[:20]
            assert why in (await response.json())["error"]
    async with session.post(
        "/janitor", data=b"{}", headers={"Content-Type": "application/json; charset=latin-1"}
    ) as response:
        assert response.status == 400
    async with session.get("/healthz") as response:
        assert response.status == 200


async def test_janitor_calls_an_admin_url_when_due(control, health) -> None:
    session, _ = control
    job = {
        "due_in_s": 0.1,
        "method": "DELETE",
        "url": f"{health}/api-1/proxies/api-1/toxics/slow",
        "description": "remove toxic slow",
    }
    async with session.post("/janitor", json=job) as response:
        assert response.status == 201
        filed = await response.json()
    assert filed["description"] == "remove toxic slow"
    await asyncio.sleep(0.4)
    assert CALLS == ["DELETE /api-1/proxies/api-1/toxics/slow"]
    async with session.get("/janitor") as response:
        assert await response.json() == []


async def test_start_fails_when_the_container_exits_while_starting(control, containers) -> None:
    _, mesh = control
    await mesh.nodes["dns"].stop()
    containers["dns"].crash_on_start = True
    with pytest.raises(MeshStartError, match="dns exited with code 1"):
        await mesh.start_node("dns")


async def test_shutdown_stops_every_node_container(control, containers) -> None:
    session, _ = control
    async with session.post("/shutdown") as response:
        assert (await response.json()) == {"status": "stopping"}
    for _ in range(50):
        if containers["api-1"].status == containers["dns"].status == "exited":
            break
        await asyncio.sleep(0.02)
    assert containers["api-1"].calls == containers["dns"].calls == ["stop"]
    assert containers["other"].status == "running"
