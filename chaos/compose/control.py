"""The compose mesh's control service: the embedded control API, backed by the Docker engine.

    runner / CLI ──HTTP──▶ control (127.0.0.1:18400, network_mode: host)
                              ├── chaos.mesh.control.create_app  (the same routes)
                              ├── DockerMesh: node actions → docker stop/start/kill/pause
                              └── Janitor: reverts due even if the runner dies

It speaks exactly the supervisor's API (``GET /nodes``, ``POST /nodes/{name}/{action}
[?ttl=S]``, ``GET/POST/DELETE /janitor``, ``POST /shutdown``) because it *is* that
API: ``create_app`` from ``chaos.mesh.control`` is reused over ``DockerMesh``, which
offers the slice of ``Supervisor`` those handlers touch. Containers are found by
their compose labels (project and service), so a container recreated by
``docker compose up`` is found again.

What differs from processes:

    stop    docker stop (SIGTERM, SIGKILL after 5 s)
    kill    docker kill (SIGKILL): a crash, shown as ``exited``
    pause   docker pause (cgroup freezer): sockets stay open, nothing answers

Docker counts both ``stop`` and ``kill`` as a manual stop, so the restart policy
(``unless-stopped``) leaves the node down until ``start`` (or the janitor, at the
TTL) as in the embedded mesh; a process that dies on its own is restarted by Docker.

``healthy`` is the node's own health URL answering 200 (as the supervisor checks),
not Docker's periodic healthcheck, which lags by up to an interval; Docker's verdict
is kept in the ``health`` field of ``GET /nodes``.

With ``--stack`` the nodes are a Swarm stack's tasks (``TaskNode``): stop and start
scale the service, kill and pause act on the task's container (on another engine
through a one-shot service of ``--image`` pinned there: ``chaos.compose.task_action``),
and the swarm's engines can be drained (``chaos.compose.engines``).

``python -m chaos.compose.control [--host 127.0.0.1] [--port 18400] [--project NAME]
[--stack [--image IMAGE]]``;
with ``$FALLACIES_ADMIN_TOKEN`` set every route but ``/healthz`` needs that token.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from chaos.compose import task_action
from chaos.compose.engines import (
    STACK_LABEL,
    TASK_ID_LABEL,
    SwarmEngines,
    engine_names,
    stack_tasks,
)
from chaos.compose.topology import CONTROL_PORT, HOST, PROJECT, by_name, compose_plan
from chaos.mesh.control import Engines, create_app
from chaos.mesh.errors import MeshStartError
from chaos.mesh.janitor import Janitor
from chaos.mesh.model import (
    DEFAULT_SCALE,
    HEALTH_TIMEOUT_S,
    MeshPlan,
    NodePlan,
    NodeState,
    NodeStatus,
    Scale,
)
from services.common.address import http_url
from services.common.admin_token import protect, token_from_env
from services.common.base import Service
from services.common.http import start_site

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container


__all__ = ["ContainerNode", "ControlService", "DockerMesh", "TaskNode", "main"]

log = logging.getLogger(__name__)

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"
TASK_SERVICE_LABEL = "com.docker.swarm.service.name"
STOP_TIMEOUT_S = 5
KILL_SEEN_S = 5.0
"""How long a kill waits for the manager to report the task down."""
CLEAN_EXIT_CODES = (0, 143)
"""How a node ends on ``docker stop`` (SIGTERM handled, or not): stopped, not crashed."""


class ContainerNode:
    """One compose service's container with ``NodeProcess``'s surface.

    ``state`` and ``pid`` are refreshed from the engine after every action and on
    every status call. The blocking Docker SDK runs in worker threads.
    """

    def __init__(self, name: str, kind: str, mesh: DockerMesh) -> None:
        self.name = name
        self.kind = kind
        self._mesh = mesh
        self.state: NodeState = "stopped"
        self.pid: int | None = None
        self.returncode: int | None = None
        self.health: str | None = None
        """Docker's own healthcheck verdict: starting, healthy, unhealthy, or None."""
        self._stopped_on_purpose = False

    def _container(self) -> Container:
        found = self._mesh.containers(self.name)
        if self.name not in found:
            raise LookupError(
                f"no container for {self.name!r} in compose project {self._mesh.project!r}"
            )
        return found[self.name]

    def update(self, container: Container | None) -> None:
        """Take state, pid, exit code and health from the container's inspect data."""
        if container is None:
            self.state, self.pid, self.returncode, self.health = "stopped", None, None, None
            return
        state: dict[str, Any] = container.attrs.get("State", {})
        status = str(state.get("Status", ""))
        self.health = (state.get("Health") or {}).get("Status")
        self.pid = int(state["Pid"]) if state.get("Pid") else None
        self.returncode = None
        if status == "running":
            self.state = "running"
        elif status == "paused":
            self.state = "paused"
        elif status == "restarting":
            self.state = "starting"
        elif status in ("exited", "dead"):
            self.returncode = int(state.get("ExitCode", -1))
            clean = self._stopped_on_purpose or self.returncode in CLEAN_EXIT_CODES
            self.state = "stopped" if clean else "exited"
        else:  # created, removing
            self.state = "stopped"

    async def refresh(self) -> None:
        found = await asyncio.to_thread(self._mesh.containers, self.name)
        self.update(found.get(self.name))

    async def start(self) -> None:
        """Start a stopped or crashed container; a running or paused one is left as is."""
        await self.refresh()
        if self.state in ("starting", "running", "paused"):
            return
        self._stopped_on_purpose = False

        def start() -> None:
            container = self._container()
            container.start()
            self._mesh.rejoin_namespace(container)

        await asyncio.to_thread(start)
        await self.refresh()

    async def stop(self) -> None:
        def stop() -> None:
            container = self._container()
            if container.status == "paused":
                container.unpause()
            container.stop(timeout=STOP_TIMEOUT_S)

        self._stopped_on_purpose = True
        await asyncio.to_thread(stop)
        await self.refresh()

    async def kill(self) -> None:
        """SIGKILL, as a crash; down until started (Docker treats it as a manual stop)."""
        await self._apply("kill")

    async def pause(self) -> None:
        await self._apply("pause")

    async def resume(self) -> None:
        await self._apply("unpause")

    async def _apply(self, action: str) -> None:
        await asyncio.to_thread(lambda: task_action.apply(self._container(), action))
        await self.refresh()


TASK_STATES: dict[str, NodeState] = {
    "running": "running",
    **dict.fromkeys(
        ("new", "pending", "assigned", "accepted", "preparing", "ready", "starting"), "starting"
    ),
    **dict.fromkeys(("complete", "shutdown", "orphaned", "remove"), "stopped"),
    **dict.fromkeys(("failed", "rejected"), "exited"),
}
"""A Swarm task's state as a node's (``docker service ps``'s words on the left)."""


def runs_task(container: Container | None, task_id: object) -> bool:
    """Whether ``container`` (this engine's, of the service) is the task's own."""
    return container is not None and container.labels.get(TASK_ID_LABEL) == task_id


class TaskNode(ContainerNode):
    """A Swarm stack's service with one task, on whichever engine the swarm put it.

    Its state is the task's, as the manager reports it; a task on this engine also
    gives its container's (paused, Docker's health). ``stop`` and ``start`` scale the
    service to 0 and 1, the orchestrator's own stop: a stopped container would be
    replaced at once. ``kill`` and ``pause`` act on the task's container on whichever
    engine it runs, and the swarm's answer to a kill (a new task, a new address) is
    shown, not fought."""

    def __init__(self, name: str, kind: str, mesh: DockerMesh) -> None:
        super().__init__(name, kind, mesh)
        self.engine: str | None = None
        """The hostname of the engine its task runs on."""
        self._paused_task: str | None = None
        """The task paused by ``pause``: the manager reports a paused task as running."""

    def update_task(self, task: dict[str, Any] | None, container: Container | None) -> None:
        if task is None:
            self.update(None)
            return
        status: dict[str, Any] = task.get("Status") or {}
        state = TASK_STATES.get(str(status.get("State", "")), "starting")
        self.engine = self._mesh.engine_names.get(str(task.get("NodeID", "")))
        if runs_task(container, task.get("ID")):
            if state == "running":
                self.update(container)
                return
        found: dict[str, Any] = status.get("ContainerStatus") or {}
        self.health = None
        self.pid = int(found["PID"]) if found.get("PID") else None
        self.returncode = int(found.get("ExitCode", -1)) if state == "exited" else None
        if state == "running" and task.get("ID") == self._paused_task:
            state = "paused"
        self.state = "stopped" if state == "exited" and self._stopped_on_purpose else state

    async def refresh(self) -> None:
        tasks, local = await asyncio.to_thread(self._mesh.tasks_and_containers, self.name)
        self.update_task(tasks.get(self.name), local.get(self.name))

    async def _apply(self, action: str) -> None:
        """``action`` on the current task's container: here through this engine's socket,
        elsewhere by a one-shot service on the task's engine (``chaos.compose.task_action``),
        the same few lines in both places."""

        def act() -> tuple[str, bool]:
            tasks, found = self._mesh.tasks_and_containers(self.name)
            task = tasks.get(self.name)
            if task is None or task.get("DesiredState") != "running":
                raise LookupError(f"{self.name} has no task meant to run (start it first)")
            task_id = str(task.get("ID"))
            if runs_task(found.get(self.name), task_id):
                return task_id, task_action.act(self._mesh.client, action, task_id)
            node_id = str(task.get("NodeID", ""))
            return task_id, self._mesh.act_elsewhere(node_id, task_id, action)

        task_id, acted = await asyncio.to_thread(act)
        log.info("%s %s (task %s): %s", action, self.name, task_id, "done" if acted else "left")
        if action == "pause" and acted:
            self._paused_task = task_id
        elif action != "pause":
            self._paused_task = None
        await self.refresh()
        if action == "kill" and acted:
            # The manager hears of the crash a moment later: until then it says running.
            deadline = time.monotonic() + KILL_SEEN_S
            while self.state == "running" and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                await self.refresh()

    async def start(self) -> None:
        await self.refresh()
        if self.state in ("starting", "running", "paused"):
            return
        self._stopped_on_purpose = False
        await asyncio.to_thread(self._mesh.scale, self.name, 1)
        deadline = time.monotonic() + self._mesh.start_timeout_s
        while time.monotonic() < deadline:
            await self.refresh()
            if self.state in ("running", "paused"):
                return
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        self._stopped_on_purpose = True
        await asyncio.to_thread(self._mesh.scale, self.name, 0)
        deadline = time.monotonic() + STOP_TIMEOUT_S * 3
        while time.monotonic() < deadline:
            await self.refresh()
            if self.state in ("stopped", "exited"):
                return
            await asyncio.sleep(0.2)


class DockerMesh:
    """The part of ``Supervisor`` that ``chaos.mesh.control.create_app`` uses, over Docker.

    ``plan`` (for the janitor's allowed admin URLs), ``nodes`` (name → node with
    state, pid, stop, kill, pause, resume), ``status()``, ``start_node()``,
    ``janitor`` and ``shutdown_requested``.
    """

    def __init__(
        self,
        plan: MeshPlan,
        client: docker.DockerClient,
        *,
        project: str = PROJECT,
        start_timeout_s: float = 30.0,
        stack: bool = False,
        image: str | None = None,
    ) -> None:
        self.plan = plan
        self.image = image
        """The mesh's image, which the one-shot services that act on other engines run."""
        self.client = client
        self.project = project
        self.stack = stack
        """A Swarm stack's tasks, not a compose project's containers."""
        self.start_timeout_s = start_timeout_s
        node_type = TaskNode if stack else ContainerNode
        self.nodes = {node.name: node_type(node.name, node.kind, self) for node in plan.nodes}
        self.janitor = Janitor()
        self.engine_names: dict[str, str] = {}
        """Swarm node ID → hostname, as of the last ``tasks_and_containers``."""
        self.shutdown_requested = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None

    def containers(self, service: str | None = None) -> dict[str, Container]:
        """The project's containers by service name (blocking: call in a thread)."""
        if self.stack:
            labels = [f"{STACK_LABEL}={self.project}"]
            key, prefix = TASK_SERVICE_LABEL, f"{self.project}_"
            if service is not None:
                labels.append(f"{key}={prefix}{service}")
        else:
            labels = [f"{PROJECT_LABEL}={self.project}", f"{ONEOFF_LABEL}=False"]
            key, prefix = SERVICE_LABEL, ""
            if service is not None:
                labels.append(f"{key}={service}")
        found: dict[str, Container] = {}
        for container in self.client.containers.list(all=True, filters={"label": labels}):
            name = container.labels.get(key, "").removeprefix(prefix)
            if name and (name not in found or container.status == "running"):
                found[name] = container
        return found

    def tasks_and_containers(
        self, service: str | None = None
    ) -> tuple[dict[str, dict[str, Any]], dict[str, Container]]:
        """Each stack service's current task (the one meant to run, else the newest),
        by the manager, and this engine's containers (blocking: call in a thread)."""
        self.engine_names = engine_names(self.client)
        chosen: dict[str, dict[str, Any]] = {}
        for name, task in stack_tasks(self.client, self.project, service):
            meant = task.get("DesiredState") == "running"
            if meant or chosen.get(name, {}).get("DesiredState") != "running":
                chosen[name] = task
        return chosen, self.containers(service)

    def act_elsewhere(self, node_id: str, task_id: str, action: str) -> bool:
        """``action`` on a task of another engine, by a one-shot service pinned there;
        whether it acted (blocking: call in a thread)."""
        where = self.engine_names.get(node_id) or node_id
        if self.image is None:
            raise LookupError(
                f"the task runs on {where}: acting there needs the mesh's image "
                "(start the control service with --image)"
            )
        acted = task_action.on_engine(
            self.client, image=self.image, project=self.project, node_id=node_id,
            task_id=task_id, action=action,
        )  # fmt: skip
        log.info("%s on %s: %s", action, where, "done" if acted else "left as it was")
        return acted

    def scale(self, name: str, replicas: int) -> None:
        """Set a stack service's replicas (blocking: call in a thread)."""
        service = self.client.services.get(f"{self.project}_{name}")  # type: ignore[no-untyped-call]
        service.scale(replicas)

    def rejoin_namespace(self, container: Container) -> None:
        """Restart the containers that share ``container``'s network namespace
        (``network_mode: service:NAME``, as toxiproxy-gate shares Toxiproxy's): after a
        start they are left in the old, dead namespace (blocking: call in a thread)."""
        joined = {f"container:{container.id}", f"container:{container.name}"}
        for other in self.containers().values():
            if (other.attrs.get("HostConfig") or {}).get("NetworkMode") in joined:
                log.info("restarting %s to join %s's new namespace", other.name, container.name)
                other.restart(timeout=STOP_TIMEOUT_S)

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_S)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def _healthy(self, node: NodePlan) -> bool:
        try:
            async with self.session().get(node.health_url) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def status(self) -> list[NodeStatus]:
        if self.stack:
            tasks, found = await asyncio.to_thread(self.tasks_and_containers)
        else:
            tasks, found = {}, await asyncio.to_thread(self.containers)

        async def one(node: NodePlan) -> NodeStatus:
            proc = self.nodes[node.name]
            if isinstance(proc, TaskNode):
                proc.update_task(tasks.get(node.name), found.get(node.name))
            else:
                proc.update(found.get(node.name))
            healthy = proc.state == "running" and await self._healthy(node)
            return NodeStatus.of(node, proc, healthy=healthy)

        return list(await asyncio.gather(*(one(node) for node in self.plan.nodes)))

    async def start_node(self, name: str) -> None:
        """Start the node's container and return once its health URL answers."""
        proc, node = self.nodes[name], self.plan.node(name)
        await proc.start()
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if proc.state == "running" and await self._healthy(node):
                return
            if proc.state in ("stopped", "exited"):
                raise MeshStartError(f"{name} exited with code {proc.returncode} while starting")
            await asyncio.sleep(0.05)
            await proc.refresh()
        raise MeshStartError(
            f"{name} was not healthy within {self.start_timeout_s:.0f} s ({node.health_url})"
        )

    async def stop_all(self) -> None:
        """What ``POST /shutdown`` asks for: every node's container stopped (control stays)."""
        await asyncio.gather(*(proc.stop() for proc in self.nodes.values()))

    async def close(self) -> None:
        await self.janitor.close()
        if self._session is not None:
            await self._session.close()
            self._session = None


class ControlService(Service):
    """The control API on loopback (inside a lab engine: where its label says, the host
    publishing that on its loopback), serving a ``DockerMesh``."""

    name = "control"

    def __init__(
        self,
        mesh: DockerMesh,
        *,
        host: str = HOST,
        port: int = CONTROL_PORT,
        admin_token: str | None = None,
        engines: Engines | None = None,
    ) -> None:
        self.mesh = mesh
        self.engines = engines
        self.host = host
        self.port = port
        self.admin_token = admin_token
        self._runner: web.AppRunner | None = None
        self._watch: asyncio.Task[None] | None = None

    @property
    def endpoints(self) -> dict[str, str]:
        return {"control": http_url(self.host, self.port)}

    async def start(self) -> None:
        if self.mesh.stack:
            strays = await asyncio.to_thread(
                task_action.remove_strays, self.mesh.client, self.mesh.project
            )
            if strays:
                log.info("removed %d one-shot(s) a previous control service left", strays)
        app = create_app(self.mesh, engines=self.engines)
        app = protect(app, token=self.admin_token, host=self.host)
        self._runner, self.port = await start_site(
            app, self.host, self.port, what="compose control API"
        )
        self._watch = asyncio.create_task(self._on_shutdown())

    async def _on_shutdown(self) -> None:
        await self.mesh.shutdown_requested.wait()
        log.info("shutdown requested: stopping every node container")
        try:
            await self.mesh.stop_all()
        except Exception as exc:
            log.warning("could not stop every node: %s", exc)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.mesh.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.compose.control", description=__doc__)
    parser.add_argument("--host", default=HOST, help="bind address (keep it loopback)")
    parser.add_argument("--port", type=int, default=CONTROL_PORT)
    parser.add_argument(
        "--project",
        default=os.environ.get("FALLACIES_COMPOSE_PROJECT") or PROJECT,
        help="compose project whose containers are the nodes",
    )
    parser.add_argument(
        "--stack", action="store_true", help="the project is a Swarm stack (tasks are the nodes)"
    )
    parser.add_argument(
        "--image",
        default=os.environ.get("FALLACIES_IMAGE"),
        help="the mesh's image: kill and pause run it on a task's engine (with --stack)",
    )
    parser.add_argument(
        "--api-replicas", type=int, default=DEFAULT_SCALE.api, help="API replicas in the stack"
    )
    parser.add_argument(
        "--workloads", type=int, default=DEFAULT_SCALE.workloads, help="workload pairs in it"
    )
    args = parser.parse_args(argv)
    try:
        scale = Scale(args.api_replicas, args.workloads)
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    import docker

    from services.common.errors import PortInUseError
    from services.common.lifecycle import run

    try:
        client = docker.from_env(version="auto")
    except docker.errors.DockerException as exc:
        print(f"error: cannot reach the Docker engine: {exc}", file=sys.stderr)
        return 2
    ips = None if scale == DEFAULT_SCALE else by_name(scale)
    plan = compose_plan(ips=ips, scale=scale)
    mesh = DockerMesh(plan, client, project=args.project, stack=args.stack, image=args.image)
    engines = SwarmEngines(client, project=args.project) if args.stack else None

    def announce(endpoints: dict[str, str]) -> None:
        print(json.dumps({"node": "control", "endpoints": endpoints}), flush=True)

    try:
        token = token_from_env()
        service = ControlService(
            mesh, host=args.host, port=args.port, admin_token=token, engines=engines
        )
        run(service, announce)
    except PortInUseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
