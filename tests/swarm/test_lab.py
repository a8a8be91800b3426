"""The stack across three Docker engines: ``python -m chaos.swarm.lab`` starts them in
containers on this engine and joins them into one swarm (images through the lab's
registry), then the mesh runs there as a user would run it on three hosts:
``fallacies up --swarm``, all eight experiments, an engine drained under api-1 while
the resilient client holds, ``fallacies down --swarm``, and nothing left on any engine,
nor of the lab on this one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chaos.compose import topology
from chaos.mesh.model import MAX_API_REPLICAS, MAX_WORKLOAD_PAIRS, Scale
from chaos.mesh.state import MeshState
from chaos.swarm import lab, lifecycle
from chaos.swarm.stack import STACK
from services.common.admin_token import ENV as ADMIN_ENV
from tests.compose.conftest import missing, require_docker_daemon
from tests.swarm.conftest import build_images

pytestmark = [pytest.mark.tool("docker"), pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
STACK_LABEL = f"label=com.docker.stack.namespace={STACK}"
ENGINES = 3


@dataclass(frozen=True)
class Lab:
    sockets: tuple[Path, ...]
    state_dir: Path

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != ADMIN_ENV}
        env.update(DOCKER_HOST=f"unix://{self.sockets[0]}", COLUMNS="200")
        return subprocess.run(
            [sys.executable, "-m", "chaos.cli", *args, "--state-dir", str(self.state_dir)],
            capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT,
        )  # fmt: skip

    def state(self) -> MeshState:
        state = MeshState.read(self.state_dir / "swarm")
        assert state is not None
        return state


def on(socket: Path, *args: str) -> str:
    done = subprocess.run(
        ["docker", "-H", f"unix://{socket}", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def leftovers(socket: Path, *, manager: bool) -> dict[str, list[str]]:
    """What the stack or ``up`` could leave on one engine."""
    found = {
        "containers": on(socket, "ps", "-aq", "--filter", STACK_LABEL).split(),
        "networks": on(socket, "network", "ls", "-q", "--filter", STACK_LABEL).split(),
        "volumes": on(socket, "volume", "ls", "-q", "--filter", STACK_LABEL).split(),
    }
    if manager:
        found["services"] = on(socket, "service", "ls", "-q", "--filter", STACK_LABEL).split()
        found["configs"] = on(socket, "config", "ls", "-q", "--filter", STACK_LABEL).split()
        own = f"label={lifecycle.OWN_LABEL}={STACK}"
        found["own"] = on(socket, "ps", "-aq", "--filter", own).split()
    return found


def host_ports_taken() -> list[int]:
    import socket

    taken = []
    largest = topology.published(Scale(MAX_API_REPLICAS, MAX_WORKLOAD_PAIRS))
    for port in [topology.CONTROL_PORT, *largest.values()]:
        with socket.socket() as probe:
            if probe.connect_ex((topology.HOST, port)) == 0:
                taken.append(port)
    return taken


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_docker_daemon()
    if lab.engines():
        missing("a lab is running already: `python -m chaos.swarm.lab down` first")
    if host_ports_taken():
        missing(f"the mesh's ports are taken on this machine: {host_ports_taken()}")
    build_images()
    state_dir = tmp_path_factory.mktemp("lab")
    try:
        started = lab.up(ENGINES, state_dir=state_dir)
        here = Lab(started.sockets, state_dir)
        try:
            up = here.cli("up", "--swarm", "--detach", "--no-console")
            assert up.returncode == 0, up.stdout + up.stderr
            yield here
        finally:
            down = here.cli("down", "--swarm")
            assert down.returncode == 0, down.stdout + down.stderr
            for index, socket in enumerate(here.sockets):
                found = leftovers(socket, manager=index == 0)
                assert found == {k: [] for k in found}, f"engine-{index + 1}: {found}"
    finally:
        lab.down(state_dir=state_dir)
        assert lab.leftovers() == {"containers": [], "volumes": [], "networks": []}


def engines(state: MeshState) -> dict[str, dict[str, Any]]:
    import urllib.request

    request = urllib.request.Request(f"{state.control_url}/engines", headers=state.admin_headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return {e["hostname"]: e for e in json.loads(response.read())}


def replicas_apart(state: MeshState) -> dict[str, str]:
    """api-1 and api-2 by engine; asserts each runs on its own worker."""
    where = {
        task: name for name, e in engines(state).items() for task in e["tasks"] if "api" in task
    }
    found = engines(state)
    assert set(where) == {"api-1", "api-2"}, found
    assert where["api-1"] != where["api-2"], found
    assert all(found[host]["role"] == "worker" for host in where.values()), found
    return where


def test_the_fabric_stays_on_the_manager_and_the_replicas_spread_over_the_workers(
    mesh: Lab,
) -> None:
    state = mesh.state()
    found = engines(state)
    assert sorted(found) == [f"engine-{i}" for i in range(1, ENGINES + 1)]
    manager = found["engine-1"]
    assert manager["role"] == "manager"
    fabric = {"dns", "ntp-a", "ntp-b", "ntp-c", "proxy", "toxiproxy", "prometheus"}
    assert fabric | {"workload", "rogue"} <= set(manager["tasks"])
    replicas_apart(state)


def test_prometheus_finds_every_task_on_every_engine(mesh: Lab) -> None:
    import urllib.request

    state = mesh.state()
    api = f"http://127.0.0.1:{topology.PUBLISHED[('prometheus', 'http')]}/api/v1/targets"
    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen(api, timeout=10) as response:
            targets = json.loads(response.read())["data"]["activeTargets"]
        health = {t["labels"]["node"]: t["health"] for t in targets}
        if health == {name: "up" for name in [*state.nodes, "prometheus"]}:
            break
        assert time.monotonic() < deadline, health
        time.sleep(1)
    by_engine = {t["labels"]["node"]: t["labels"].get("engine") for t in targets}
    where = replicas_apart(state)
    assert {by_engine["api-1"], by_engine["api-2"]} == set(where.values())
    assert by_engine["dns"] == "engine-1"


def test_all_eight_experiments_pass_across_the_engines(mesh: Lab, tmp_path: Path) -> None:
    run = mesh.cli("run", "all", "--quick", "--target", "swarm", "--out", str(tmp_path))
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    journals = sorted(tmp_path.glob("0*.json"))
    assert len(journals) == 8, journals
    for path in journals:
        journal = json.loads(path.read_text())
        assert journal["target"] == "swarm", path.name
        assert all(f["error"] is None for f in journal["faults"]), (path.name, journal["faults"])


def test_a_drained_engine_moves_api_1_while_the_resilient_client_holds(
    mesh: Lab, tmp_path: Path
) -> None:
    state = mesh.state()
    before = replicas_apart(state)
    run = mesh.cli(
        "run", str(ROOT / "examples" / "swarm-engine-drain.yaml"), "--target", "swarm",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    (path,) = tmp_path.glob("*swarm-engine-drain.json")
    journal = json.loads(path.read_text())
    (fault,) = journal["faults"]
    assert fault["error"] is None, fault
    checks = {(c["client"], c["metric"]): c for c in journal["expectations"]}
    assert checks[("resilient", "journey_success_ratio")]["passed"]
    assert checks[("naive", "journey_success_ratio")]["passed"]
    # The drain's revert made the engine active and spread the replicas again; the
    # swarm restarts the one it moved, so allow it the seconds that takes.
    deadline = time.monotonic() + 60
    while True:
        found = engines(state)
        try:
            after = replicas_apart(state)
        except AssertionError:
            after = {}
        if after and all(e["availability"] == "active" for e in found.values()):
            break
        assert time.monotonic() < deadline, found
        time.sleep(1)
    assert after["api-1"] != before["api-1"], (before, after)


def test_the_janitor_makes_a_drained_engine_active_at_its_ttl(mesh: Lab) -> None:
    import urllib.request

    state = mesh.state()
    host = replicas_apart(state)["api-2"]
    request = urllib.request.Request(
        f"{state.control_url}/engines/{host}/drain?ttl=3", method="POST",
        headers=state.admin_headers,
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.loads(response.read())["availability"] == "drain"
    assert engines(state)[host]["availability"] == "drain"
    deadline = time.monotonic() + 30
    while engines(state)[host]["availability"] != "active":
        assert time.monotonic() < deadline, "the janitor did not make the engine active"
        time.sleep(0.5)
    # A drain shorter than api-2's stop: the activation waits for its new task to be
    # placed, then moves it off api-1's engine; the swarm restarts it there.
    deadline = time.monotonic() + 60
    while True:
        try:
            replicas_apart(state)
            break
        except AssertionError:
            assert time.monotonic() < deadline, f"the replicas stayed together: {engines(state)}"
            time.sleep(0.5)


def test_a_task_on_a_worker_is_paused_and_killed_from_the_manager(mesh: Lab) -> None:
    """Kill and pause reach a task on another engine (a one-shot service there); the
    janitor resumes at the TTL, and the swarm replaces the killed task by itself."""
    import urllib.request

    from chaos.compose.task_action import ACTION_LABEL

    state = mesh.state()
    host = replicas_apart(state)["api-2"]
    socket = mesh.sockets[int(host.removeprefix("engine-")) - 1]
    task = f"label=com.docker.swarm.service.name={STACK}_api-2"

    def containers(status: str) -> list[str]:
        return on(socket, "ps", "-q", "--filter", task, "--filter", f"status={status}").split()

    def answers() -> bool:
        try:
            with urllib.request.urlopen(state.nodes["api-2"].health_url, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    assert not on(mesh.sockets[0], "ps", "-q", "--filter", task).split(), "api-2 on the manager"
    paused = mesh.cli("node", "api-2", "pause", "--swarm", "--ttl", "5")
    assert paused.returncode == 0, paused.stdout + paused.stderr
    assert "api-2: paused" in paused.stdout, paused.stdout
    assert len(containers("paused")) == 1
    deadline = time.monotonic() + 60
    while not (containers("running") and answers()):
        assert time.monotonic() < deadline, "the janitor did not resume api-2"
        time.sleep(0.5)
    (before,) = containers("running")

    killed = mesh.cli("node", "api-2", "kill", "--swarm")
    assert killed.returncode == 0, killed.stdout + killed.stderr
    assert before in containers("exited")
    deadline = time.monotonic() + 90
    while not (any("api-2" in e["tasks"] for e in engines(state).values()) and answers()):
        assert time.monotonic() < deadline, "the swarm did not replace the killed task"
        time.sleep(0.5)
    one_shots = on(mesh.sockets[0], "service", "ls", "-q", "--filter", f"label={ACTION_LABEL}")
    assert not one_shots.split(), "a one-shot service outlived its action"
