"""``up``, ``down`` and ``status`` of the Swarm stack, around ``docker stack``.

    up()     docker stack deploy -c compose/stack.yaml fallacies, then on this engine
             the gateway (the admin ports, published on 127.0.0.1 only) and the
             control service (host network, loopback); writes the MeshState
    down()   both containers removed, docker stack rm, waits until the network is gone,
             then removes the stack's volumes (Prometheus' data)

The host sees the same ports as the compose mesh (``chaos.compose.topology.PUBLISHED``),
so the runner, the faults and the console work unchanged. The two meshes cannot run at
once on one machine; ``up`` says so when a port is taken.

The engine must be a swarm manager (``docker swarm init`` on one engine); ``up`` never
changes a engine's swarm membership on its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaos.compose import topology
from chaos.compose.engines import STACK_LABEL
from chaos.compose.lifecycle import run_docker, wait_healthy
from chaos.compose.state import NO_SUPERVISOR
from chaos.mesh.control import fetch_status
from chaos.mesh.errors import MeshError
from chaos.mesh.model import DEFAULT_SCALE, NodeStatus, Scale
from chaos.mesh.state import MeshState, default_state_dir
from chaos.swarm.stack import (
    NETWORK,
    SERVER_PLACEMENT,
    STACK,
    STACK_FILE,
    gateway_config,
    write_scaled,
)
from services.common.admin_token import ENV as TOKEN_ENV
from services.common.admin_token import token_from_env

__all__ = ["CONTROL", "GATEWAY", "SwarmError", "down", "running_state", "status", "up"]

GATEWAY = f"{STACK}-swarm-gateway"
CONTROL = f"{STACK}-swarm-control"
OFFLINE_ENV = STACK_FILE.parent / "offline.env"
DEFAULT_IMAGE = "fallacies/mesh:latest"
STACK_FILTER = f"label={STACK_LABEL}={STACK}"
OWN_LABEL = "org.fallacies.swarm"
"""On the two containers ``up`` starts beside the stack, so ``down`` finds them."""
PUBLISH_LABEL = "org.fallacies.publish-host"
"""An engine label: where the gateway and control listen, when the engine's loopback is
not the host's (an engine in a container, whose ports the host publishes)."""
LAB_LABEL = "org.fallacies.lab"
"""On the lab's containers (chaos.swarm.lab), and an engine label of the lab's engines."""
REGISTRY_LABEL = "org.fallacies.registry"
"""An engine label: the registry the stack's images are pulled from, as ``HOST:PORT``."""
IMAGE_KEYS = ("FALLACIES_IMAGE", "TOXIPROXY_GATED_IMAGE", "PROMETHEUS_IMAGE")


class SwarmError(MeshError):
    """``docker stack`` failed, or the engine is not a swarm manager; the message says
    what to do."""


def swarm_state_dir(state_dir: Path | None = None) -> Path:
    return (state_dir or default_state_dir()) / "swarm"


def _docker() -> str:
    docker = shutil.which("docker")
    if docker is None:
        raise SwarmError("docker is not installed (the Swarm stack needs a Docker engine)")
    return docker


def _run(args: list[str], *, env: Mapping[str, str] | None = None, timeout_s: float = 120) -> str:
    return run_docker([_docker(), *args], env=env, timeout_s=timeout_s, error=SwarmError)


def require_manager() -> None:
    """A clear error unless this engine manages a swarm."""
    out = _run(["info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}"])
    state, _, manager = out.strip().partition(" ")
    if state != "active":
        raise SwarmError(
            f"this Docker engine is not in a swarm (state: {state or 'unknown'}): run "
            "`docker swarm init --advertise-addr 127.0.0.1` for one engine, or join it to one"
        )
    if manager != "true":
        raise SwarmError("this engine is a swarm worker: run `fallacies up --swarm` on a manager")


def read_env_file(path: Path | None) -> dict[str, str]:
    """``KEY=VALUE`` lines (compose/offline.env): ``docker stack`` has no --env-file."""
    path = path if path is not None else (OFFLINE_ENV if OFFLINE_ENV.exists() else None)
    if path is None:
        return {}
    env = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            env[key] = value
    return env


def admin_token(state_dir: Path | None = None) -> str | None:
    given = token_from_env()
    if given:
        return given
    kept = MeshState.read(swarm_state_dir(state_dir))
    return kept.secrets.get("admin_token") if kept is not None else None


def swarm_state(
    admin_token: str | None, ips: dict[str, str] | None = None, scale: Scale = DEFAULT_SCALE
) -> MeshState:
    plan = topology.compose_plan(admin_token, ips=ips, scale=scale)
    return MeshState.from_plan(plan, supervisor_pid=NO_SUPERVISOR)


CARRIERS = ("proxy", "toxiproxy")
"""The nodes the mesh's DNS names by address: the links listen there."""


def host_view(task_ips: dict[str, str], scale: Scale = DEFAULT_SCALE) -> dict[str, str]:
    """Where the runner says each node is: the carriers by address (DNS records hold
    them), every other node by name, as the carriers dial it, so an upstream put back
    after a fault follows a task the swarm has moved."""
    missing = [name for name in CARRIERS if name not in task_ips]
    if missing:
        raise SwarmError(f"no running task of {', '.join(missing)} in the stack")
    return {name: task_ips[name] if name in CARRIERS else name for name in topology.by_name(scale)}


def _services_and_running_tasks() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The stack's services and its running tasks, on whichever engine each runs (the
    manager knows every task), as ``docker inspect`` gives them."""
    ids = _service_ids()
    services = json.loads(_run(["service", "inspect", *ids])) if ids else []
    tasks = _run(
        ["stack", "ps", "-q", "--no-trunc", "--filter", "desired-state=running", STACK]
    ).split()
    found = json.loads(_run(["inspect", "--type", "task", *tasks])) if tasks else []
    running = [t for t in found if (t.get("Status") or {}).get("State") == "running"]
    return services, running


def _task_ips() -> dict[str, str]:
    """Each running task's address on the stack's network, by service."""
    services, tasks = _services_and_running_tasks()
    names = {item["ID"]: item["Spec"]["Name"].removeprefix(f"{STACK}_") for item in services}
    ips: dict[str, str] = {}
    for task in tasks:
        name = names.get(task.get("ServiceID", ""))
        for attachment in task.get("NetworksAttachments") or []:
            if attachment["Network"]["Spec"]["Name"] == f"{STACK}_{NETWORK}" and name:
                ips[name] = attachment["Addresses"][0].partition("/")[0]
    return ips


def _service_ids() -> list[str]:
    return _run(["service", "ls", "-q", "--filter", STACK_FILTER]).split()


def _active_workers() -> list[str]:
    """The hostnames of the swarm's workers that take tasks."""
    out = _run(
        ["node", "ls", "--filter", "role=worker",
         "--format", "{{.Hostname}} {{.Status}} {{.Availability}}"]
    )  # fmt: skip
    return [line.split()[0] for line in out.splitlines() if line.split()[1:] == ["Ready", "Active"]]


def engine_labels() -> dict[str, str]:
    """The engine's own labels (``dockerd --label``): a lab engine says where its
    ports are published and where the stack's images come from (chaos.swarm.lab)."""
    out = _run(["info", "--format", "{{json .Labels}}"])
    labels: dict[str, str] = {}
    for item in json.loads(out) or []:
        key, _, value = str(item).partition("=")
        labels[key] = value
    return labels


CONVERGED = ("ContainerSpec.Image", "Placement", "ForceUpdate")
"""What a running task must share with its service's spec to count as up to date."""


def _pick(spec: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        spec = (spec or {}).get(key) or {}
    return spec or None


def _stale_services() -> list[str]:
    """The stack's services without a running task of their current spec: a redeploy's
    rolling update, a placement change, a forced restart still under way."""
    services, tasks = _services_and_running_tasks()
    if not services:
        return ["(no service yet)"]
    running: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        running.setdefault(task["ServiceID"], []).append(task["Spec"])
    stale = []
    for service in services:
        want = service["Spec"]["TaskTemplate"]
        have = running.get(service["ID"], [])
        if not any(all(_pick(t, k) == _pick(want, k) for k in CONVERGED) for t in have):
            stale.append(service["Spec"]["Name"])
    return stale


def _wait_tasks(timeout_s: float) -> None:
    """Every service of the stack running a task of its current spec (Swarm's own
    health gate passed): a redeploy's update has finished."""
    deadline = time.monotonic() + timeout_s
    stale: list[str] = []
    while time.monotonic() < deadline:
        stale = _stale_services()
        if not stale:
            return
        time.sleep(1)
    raise SwarmError(
        f"the stack's services did not all run within {timeout_s:.0f} s: {', '.join(stale)}"
    )


def up(
    *,
    env_file: Path | None = None,
    state_dir: Path | None = None,
    wait_timeout_s: float = 180.0,
    scale: Scale = DEFAULT_SCALE,
) -> MeshState:
    """Deploy the stack and its gateway and control; return its state once healthy.

    The default scale deploys ``compose/stack.yaml`` as it is; another is rendered into
    the state folder first (``chaos.swarm.stack.write_scaled``)."""
    require_manager()
    token = admin_token(state_dir) or secrets.token_hex(16)
    engine = engine_labels()
    # The environment overrides the file, as with compose; the registry prefix and the
    # placement are applied to whichever won.
    given = {k: os.environ[k] for k in (*IMAGE_KEYS, SERVER_PLACEMENT) if os.environ.get(k)}
    env = {**read_env_file(env_file), **given, TOKEN_ENV: token}
    env.setdefault("FALLACIES_IMAGE", DEFAULT_IMAGE)
    registry = engine.get(REGISTRY_LABEL)
    if registry:
        for key in IMAGE_KEYS:
            if env.get(key):
                env[key] = f"{registry}/{env[key]}"
    image = env["FALLACIES_IMAGE"]
    # Only an engine in a container of the lab's, whose ports the host publishes on its
    # loopback, may move the admin ports off the engine's own loopback.
    lab_engine = engine.get(LAB_LABEL) == "engine"
    publish = (engine.get(PUBLISH_LABEL) if lab_engine else None) or topology.HOST
    if _active_workers():
        env.setdefault(SERVER_PLACEMENT, "node.role == worker")
    directory = swarm_state_dir(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    stack_file = STACK_FILE
    if scale != DEFAULT_SCALE:
        scaled = directory / "stack"
        shutil.rmtree(scaled, ignore_errors=True)
        stack_file = write_scaled(scale, scaled)
    # A larger stack takes longer to converge: a task per service, each health-checked.
    wait_timeout_s *= max(1.0, len(scale.node_names) / len(DEFAULT_SCALE.node_names))
    _run(["stack", "deploy", "--prune", "-c", str(stack_file), STACK], env=env, timeout_s=300)
    _wait_tasks(wait_timeout_s)
    _remove_own()
    ports = [
        arg
        for (node, role), port in topology.published(scale).items()
        if node != "grafana"
        for arg in ("-p", f"{publish}:{port}:{port}")
    ]
    common = ["--detach", "--restart", "unless-stopped", "--label", f"{OWN_LABEL}={STACK}"]
    if registry:
        # As the stack's tasks do: an image pushed again since (`chaos.swarm.lab push`)
        # replaces the engine's copy. Without a registry there is nothing to pull from.
        common += ["--pull", "always"]
    _run(
        ["run", *common, "--name", GATEWAY, "--network", f"{STACK}_{NETWORK}", *ports,
         "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
         image, "python", "-m", "chaos.node", "proxy",
         "--config-json", json.dumps(gateway_config(scale), separators=(",", ":"))]
    )  # fmt: skip
    _run(
        ["run", *common, "--name", CONTROL, "--network", "host", "--user", "root",
         "--read-only", "-e", f"{TOKEN_ENV}={token}",
         "-v", "/var/run/docker.sock:/var/run/docker.sock",
         image, "python", "-m", "chaos.compose.control", "--host", publish,
         "--port", str(topology.CONTROL_PORT), "--project", STACK, "--stack", "--image", image,
         "--api-replicas", str(scale.api), "--workloads", str(scale.workloads)]
    )  # fmt: skip
    state = swarm_state(token, host_view(_task_ips(), scale), scale)
    asyncio.run(wait_healthy(state, timeout_s=wait_timeout_s, error=SwarmError))
    state.write(directory)
    return state


def _remove_own() -> None:
    ids = _run(["ps", "-aq", "--filter", f"label={OWN_LABEL}={STACK}"]).split()
    if ids:
        _run(["rm", "-f", *ids])


def down(*, state_dir: Path | None = None, timeout_s: float = 120.0) -> None:
    """Remove the gateway, control and the stack; return once its network is gone."""
    _remove_own()
    _run(["stack", "rm", STACK])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        left = _run(["ps", "-aq", "--filter", STACK_FILTER])
        nets = _run(["network", "ls", "-q", "--filter", STACK_FILTER])
        if not left.split() and not nets.split():
            break
        time.sleep(0.5)
    else:
        raise SwarmError(f"the stack's containers or network outlived {timeout_s:.0f} s")
    # docker stack rm leaves volumes; the stack's data goes with it, as `down -v` does.
    volumes = _run(["volume", "ls", "-q", "--filter", STACK_FILTER]).split()
    if volumes:
        _run(["volume", "rm", *volumes])
    shutil.rmtree(swarm_state_dir(state_dir) / "stack", ignore_errors=True)
    MeshState.remove(swarm_state_dir(state_dir))


def known_state(state_dir: Path | None = None) -> MeshState:
    kept = MeshState.read(swarm_state_dir(state_dir))
    return kept if kept is not None else swarm_state(admin_token(state_dir))


async def running_state(state_dir: Path | None = None) -> MeshState | None:
    """The stack's state if its control service answers (and takes the token), else None."""
    state = known_state(state_dir)
    nodes = await fetch_status(state)
    return state if nodes is not None else None


async def require_running(state_dir: Path | None = None) -> MeshState:
    state = await running_state(state_dir)
    if state is None:
        raise SwarmError("no Swarm stack is running (start it with `fallacies up --swarm`)")
    return state


async def status(state_dir: Path | None = None) -> list[NodeStatus] | None:
    return await fetch_status(known_state(state_dir))


def stack_services() -> list[dict[str, Any]]:
    """The stack's services as ``docker service ls`` lists them (for leftovers checks)."""
    out = _run(
        ["service", "ls", "--filter", STACK_FILTER,
         "--format", "{{json .}}"]
    )  # fmt: skip
    return [json.loads(line) for line in out.splitlines() if line.strip()]
