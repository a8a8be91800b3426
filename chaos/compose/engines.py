"""A Swarm's engines as the control service sees them: which tasks each runs, and
``drain`` / ``activate``, the topology fault that takes a whole host away.

Draining hands the engine's tasks back to the orchestrator, which starts them again
elsewhere, at new addresses: what a host taken out for maintenance does to the mesh.
The swarm's own rescheduling is the point, so nothing here steers it. Managers are
not drained: the stack keeps the mesh's fabric (DNS, time, the carriers, Prometheus)
and the workload there, and a drained manager would take the observer with the
observed; nor is the last active worker, whose replicas would have nowhere to go.
``activate`` takes new tasks again, and spreads the API replicas again where the drain
left two on one engine (Swarm never moves a running task back by itself).
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chaos.mesh.control import ENGINE_ACTIONS, EngineRefused, NoSuchEngine
from chaos.mesh.model import api_replicas

if TYPE_CHECKING:
    import docker

__all__ = [
    "EngineRefused",
    "NoSuchEngine",
    "SwarmEngines",
    "engine_names",
    "stack_services",
    "stack_tasks",
]

STACK_LABEL = "com.docker.stack.namespace"
TASK_ID_LABEL = "com.docker.swarm.task.id"
"""On a task's container: the task it runs."""
SETTLE_S = 20.0
"""How long an activation waits for the replicas a drain moved to be placed again."""
ACTION_LABEL = "org.fallacies.task-action"
"""On the one-shot services that kill or pause a task on its engine
(``chaos.compose.task_action``): in the stack, but not among its nodes."""


def stack_services(client: docker.DockerClient, project: str) -> list[tuple[str, Any]]:
    """The stack's services with their names in the stack, but the one-shots of
    ``chaos.compose.task_action``, which are in it and are no node (blocking)."""
    return [
        (str(found.name).removeprefix(f"{project}_"), found)
        for found in client.services.list(filters={"label": f"{STACK_LABEL}={project}"})
        if ACTION_LABEL not in ((found.attrs.get("Spec") or {}).get("Labels") or {})
    ]


def wants(service: Any) -> bool:
    """Whether a replicated service is meant to run a task (``node_stop`` scales to 0)."""
    spec: dict[str, Any] = service.attrs.get("Spec") or {}
    return int(((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas", 0)) > 0


def stack_tasks(
    client: docker.DockerClient, project: str, service: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """Every task of the stack's services (or of one), oldest first, with its service's
    name in the stack, as the manager knows them: on any engine (blocking)."""
    wanted = f"{project}_{service}" if service is not None else None
    services = {
        str(found.id): name
        for name, found in stack_services(client, project)
        if wanted is None or found.name == wanted
    }
    every: list[dict[str, Any]] = client.api.tasks()  # type: ignore[no-untyped-call]
    return [
        (services[str(task.get("ServiceID"))], task)
        for task in sorted(every, key=_created)
        if str(task.get("ServiceID")) in services
    ]


def _created(task: dict[str, Any]) -> datetime:
    """RFC 3339 with trimmed nanoseconds: compared as text, ``.1Z`` sorts after ``.12Z``."""
    text = str(task.get("CreatedAt") or "1970-01-01T00:00:00Z")
    head, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{fraction[:6].ljust(6, '0')}+00:00")


def engine_names(client: docker.DockerClient) -> dict[str, str]:
    """Swarm node ID → the engine's hostname (blocking)."""
    return {
        str(node.id): str((node.attrs.get("Description") or {}).get("Hostname", ""))
        for node in client.nodes.list()
    }


class SwarmEngines:
    """The swarm's nodes over the Docker SDK (blocking calls run in threads)."""

    def __init__(self, client: docker.DockerClient, *, project: str) -> None:
        self.client = client
        self.project = project
        self._lock = threading.Lock()
        """One action at a time: two drains checked at once could take every worker."""

    def _list(self) -> list[dict[str, Any]]:
        tasks = self._by_engine(starting_too=False)
        engines = []
        for node in self.client.nodes.list():
            attrs = node.attrs
            spec, description = attrs.get("Spec", {}), attrs.get("Description", {})
            node_id = str(node.id)
            engines.append(
                {
                    "id": node_id,
                    "hostname": description.get("Hostname", ""),
                    "role": spec.get("Role", ""),
                    "availability": spec.get("Availability", ""),
                    "state": (attrs.get("Status") or {}).get("State", ""),
                    "tasks": sorted(tasks.get(node_id, [])),
                }
            )
        return sorted(engines, key=lambda engine: (engine["role"] != "manager", engine["hostname"]))

    def _by_engine(self, *, starting_too: bool) -> dict[str, list[str]]:
        """Engine ID → the stack's tasks meant to run there: running, or (``starting_too``)
        placed there and not yet up."""
        tasks: dict[str, list[str]] = {}
        for name, task in stack_tasks(self.client, self.project):
            running = (task.get("Status") or {}).get("State") == "running"
            if task.get("DesiredState") == "running" and (running or starting_too):
                if task.get("NodeID"):
                    tasks.setdefault(str(task["NodeID"]), []).append(name)
        return tasks

    async def describe(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._list)

    def _act(self, name: str, action: str) -> dict[str, Any]:
        with self._lock:
            return self._act_alone(name, action)

    def _act_alone(self, name: str, action: str) -> dict[str, Any]:
        if action not in ENGINE_ACTIONS:
            raise ValueError(f"unknown action {action!r}; use one of {', '.join(ENGINE_ACTIONS)}")
        engines = self._list()
        found = [e for e in engines if name in (e["hostname"], e["id"])]
        if not found:
            known = ", ".join(e["hostname"] for e in engines)
            raise NoSuchEngine(f"no engine named {name!r} in this swarm ({known})")
        engine = found[0]
        if action == "drain" and engine["role"] == "manager":
            raise EngineRefused(
                f"{engine['hostname']} is a manager: the mesh's fabric and its control run "
                "there; drain a worker"
            )
        others = [
            e for e in engines
            if e["role"] == "worker" and e["id"] != engine["id"]
            and e["availability"] == "active" and e["state"] == "ready"
        ]  # fmt: skip
        if action == "drain" and not others:
            raise EngineRefused(
                f"{engine['hostname']} is the last active worker: the API replicas, which "
                "run on workers, would have nowhere to go"
            )
        node = self.client.nodes.get(engine["id"])
        spec = dict(node.attrs["Spec"])
        spec["Availability"] = "drain" if action == "drain" else "active"
        node.update(spec)
        done = {**engine, "availability": spec["Availability"]}
        if action == "activate":
            self._await_placement()
            done["respread"] = self._respread()
        return done

    def _await_placement(self) -> None:
        """Until every API replica meant to run has a task placed on some engine (or
        ``SETTLE_S``): a replica a short drain took is still stopping on the drained
        engine when the engine comes back, and the swarm only then places its new task.
        One a node fault stopped (scaled to 0) is not waited for (blocking)."""
        meant = (name for name, found in stack_services(self.client, self.project) if wants(found))
        replicas = set(api_replicas(meant))
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            placed = self._by_engine(starting_too=True).values()
            if replicas <= {name for names in placed for name in names}:
                return
            time.sleep(0.25)

    def _respread(self) -> list[str]:
        """Restart a replica that shares an engine with another while an active worker
        runs none: the swarm places it on the least loaded engine, as an operator's
        ``docker service update --force`` after maintenance would. Swarm never moves a
        running task by itself, and two replicas on one host make the next drain take
        both. A replica the drain moved counts where it was placed even before it runs: a
        short drain ends while it is still starting (blocking)."""
        engines = self._list()
        placed = self._by_engine(starting_too=True)
        spare = [
            e for e in engines
            if e["role"] == "worker" and e["availability"] == "active" and e["state"] == "ready"
            and not api_replicas(placed.get(e["id"], []))
        ]  # fmt: skip
        moved: list[str] = []
        for engine in engines:
            shared = api_replicas(placed.get(engine["id"], []))
            for name in shared[1:]:
                if len(moved) < len(spare):
                    self.client.services.get(f"{self.project}_{name}").force_update()  # type: ignore[no-untyped-call]
                    moved.append(name)
        return moved

    async def act(self, name: str, action: str) -> dict[str, Any]:
        """Drain or activate an engine by hostname or ID; the engine as it was asked to be."""
        return await asyncio.to_thread(self._act, name, action)
