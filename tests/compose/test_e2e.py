"""The compose mesh for real: images built offline, containers up, experiments through them.

One mesh serves the module (``docker compose up`` once, ``down -v`` at the end). The
images come from ``compose/build-images.sh`` (cached: a few seconds when they exist),
so this runs where no registry is reachable. Timings are printed at the end of the
session (see ``TIMINGS``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from chaos.compose import lifecycle, topology
from chaos.compose.backend import ComposeBackend
from chaos.compose.lifecycle import wait_healthy
from chaos.console.server import ConsoleServer
from chaos.experiments import EXPERIMENTS_DIR
from chaos.loader import load_all
from chaos.mesh.links import Links
from chaos.mesh.state import MeshState
from chaos.runner import Runner
from chaos.toxiproxy import Toxiproxy, ToxiproxyError
from services.common.admin_token import ENV as ADMIN_ENV
from services.common.admin_token import HEADER as ADMIN_HEADER
from tests.compose.conftest import (
    COMPOSE_DIR,
    missing,
    require_docker_daemon,
    require_docker_sdk,
)
from tests.polling import eventually
from tests.runner.cleanliness import leftovers
from tests.runner.test_experiments import describe

pytestmark = [pytest.mark.tool("docker"), pytest.mark.timeout(900)]

TIMINGS: dict[str, float] = {}
"""What the report asks for: image build and ``up`` to all healthy, in seconds."""
EXPERIMENTS = {exp.fallacy: exp for exp in load_all(EXPERIMENTS_DIR)}
COMPOSE_FALLACIES = (1, 2, 3, 4, 5, 6, 7, 8)
RESILIENT_SLO = 0.95
"""The experiments' own bar for the resilient client (journey success ratio)."""


def project_containers(docker: str) -> list[str]:
    done = subprocess.run(
        [docker, "ps", "-aq", "--filter", f"label=com.docker.compose.project={topology.PROJECT}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stdout.split()


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    """Build (or find cached) every image; return the overrides compose reads."""
    require_docker_daemon()
    require_docker_sdk()
    began = time.monotonic()
    done = subprocess.run(
        ["bash", str(COMPOSE_DIR / "build-images.sh")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    TIMINGS["build-images.sh (cached steps skipped)"] = time.monotonic() - began
    assert done.returncode == 0, done.stderr[-3000:]
    env: dict[str, str] = {}
    for line in done.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value
    assert set(env) == {
        "BASE_IMAGE",
        "FALLACIES_IMAGE",
        "TOXIPROXY_IMAGE",
        "PROMETHEUS_IMAGE",
        "TOXIPROXY_GATED_IMAGE",
        "ENGINE_IMAGE",
    }
    return env


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def mesh(
    images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MeshState]:
    docker = require_docker_daemon()
    if project_containers(docker):
        missing(
            f"containers of compose project {topology.PROJECT!r} exist already: "
            "stop them first (docker compose -f compose/compose.yaml down -v)"
        )
    state_dir = tmp_path_factory.mktemp("compose-state")
    began = time.monotonic()
    try:
        state = await asyncio.to_thread(lifecycle.up, env=images, state_dir=state_dir)
        TIMINGS["docker compose up -d --wait (images built)"] = time.monotonic() - began
        assert await lifecycle.running_state(state_dir) == state
        yield state
    finally:
        await asyncio.to_thread(lifecycle.down, env=images, state_dir=state_dir)
        assert project_containers(docker) == []


@pytest.fixture(scope="module")
def docker_client() -> Iterator[Any]:
    require_docker_sdk()
    import docker

    client = docker.from_env(version="auto")
    try:
        yield client
    finally:
        client.close()


def container(client: Any, service: str) -> Any:
    labels = [
        f"com.docker.compose.project={topology.PROJECT}",
        f"com.docker.compose.service={service}",
    ]
    found = client.containers.list(all=True, filters={"label": labels})
    assert len(found) == 1, found
    return found[0]


async def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        async with session.get(url, headers=headers) as response:
            response.raise_for_status()
            return await response.json()


async def control_nodes(state: MeshState) -> dict[str, dict[str, Any]]:
    nodes = await get_json(f"{state.control_url}/nodes", state.admin_headers)
    return {node["name"]: node for node in nodes}


@pytest.mark.asyncio(loop_scope="module")
async def test_mesh_comes_up_healthy(mesh: MeshState) -> None:
    """``up`` fails on its own wait timeout; how long it took is a figure for the
    timings section, not a bar: a loaded CI machine once took 21 s for a 20 s target."""
    assert "docker compose up -d --wait (images built)" in TIMINGS
    nodes = await control_nodes(mesh)
    assert set(nodes) == set(mesh.nodes)
    assert all(n["state"] == "running" and n["healthy"] for n in nodes.values()), nodes
    for name, node in mesh.nodes.items():
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            async with session.get(node.health_url) as response:
                assert response.status == 200, name


@pytest.mark.asyncio(loop_scope="module")
async def test_every_prometheus_target_is_up_and_the_rules_are_loaded(mesh: MeshState) -> None:
    api = f"http://127.0.0.1:{topology.PUBLISHED[('prometheus', 'http')]}/api/v1"
    deadline = time.monotonic() + 30
    while True:
        targets = (await get_json(f"{api}/targets"))["data"]["activeTargets"]
        health = {t["labels"]["node"]: t["health"] for t in targets}
        if set(health.values()) == {"up"} or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert health == {name: "up" for name in [*mesh.nodes, "prometheus"]}
    groups = (await get_json(f"{api}/rules"))["data"]["groups"]
    assert groups and all(g["rules"] for g in groups)
    journeys = await get_json(f"{api}/query?query=sum(fallacies_workload_journeys_total)")
    assert float(journeys["data"]["result"][0]["value"][1]) > 0


# What each admin API the host can reach guards: a read that needs the token.
GUARDED = {
    "dns": "/zone",
    "ntp-a": "/clock",
    "ntp-b": "/clock",
    "ntp-c": "/clock",
    "api-1": "/admin/keys",
    "api-2": "/admin/keys",
    "rogue": "/admin/keys",
    "proxy": "/proxies",
    "toxiproxy": "/proxies",
}


@pytest.mark.asyncio(loop_scope="module")
async def test_every_admin_api_the_host_reaches_wants_the_token(mesh: MeshState) -> None:
    urls = {name: f"{mesh.nodes[name].admin_url}{path}" for name, path in GUARDED.items()}
    urls["control"] = f"{mesh.control_url}/nodes"
    assert set(urls) >= {n for n, node in mesh.nodes.items() if node.kind != "workload"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        for name, url in urls.items():
            for headers in ({}, {ADMIN_HEADER: "guess"}):
                async with session.get(url, headers=headers) as response:
                    assert response.status == 401, (name, url, headers)
            async with session.get(url, headers=mesh.admin_headers) as response:
                assert response.status == 200, (name, url)
    # Toxiproxy's own API answers on its container's loopback only: not even the host,
    # which routes to the mesh network, reaches it there.
    with pytest.raises(OSError):
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(topology.IPS["toxiproxy"], 8474), 5
        )
        writer.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_the_cli_adds_and_removes_faults_with_an_exported_token(
    mesh: MeshState, tmp_path: Path
) -> None:
    """As after a plain `docker compose up`: no state file, the token in the environment."""
    env = {**os.environ, "FALLACIES_STATE_DIR": str(tmp_path)}
    env[ADMIN_ENV] = mesh.secrets["admin_token"]

    def cli(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        run_env = env if token is None else {**env, ADMIN_ENV: token}
        return subprocess.run(
            [sys.executable, "-m", "chaos.cli", *args, "--compose"],
            env=run_env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    refused = cli("fault", "ls", token="guess")
    assert refused.returncode != 0 and ADMIN_ENV in refused.stderr + refused.stdout
    added = cli("fault", "add", "api-2", "latency", "--latency", "40", "--ttl", "30")
    assert added.returncode == 0, added.stderr
    listed = cli("fault", "ls")
    assert "api-2: latency_downstream" in listed.stdout, listed.stdout
    assert cli("fault", "reset").returncode == 0
    assert "no active faults" in cli("fault", "ls").stdout
    assert await leftovers(mesh) == []


@pytest.mark.asyncio(loop_scope="module")
async def test_janitor_reverts_a_toxiproxy_toxic_and_a_paused_container(
    mesh: MeshState,
) -> None:
    """What the control service is for: reverts that happen without the injector."""
    await Links(mesh).add_toxic("repl-1-2", "latency", attributes={"latency": 20}, ttl=1.0)
    api = mesh.links["repl-1-2"].api
    async with Toxiproxy(api, headers=mesh.admin_headers) as client:
        assert [t.name for t in (await client.proxy("repl-1-2")).toxics]
    answer = await _post(f"{mesh.control_url}/nodes/rogue/pause?ttl=1", mesh.admin_headers)
    assert answer["state"] == "paused" and answer["revert"]["description"] == "resume rogue"
    await asyncio.sleep(2.5)
    async with Toxiproxy(api, headers=mesh.admin_headers) as client:
        assert (await client.proxy("repl-1-2")).toxics == ()
    rogue = (await control_nodes(mesh))["rogue"]
    assert rogue["state"] == "running" and rogue["healthy"], rogue


@pytest.mark.asyncio(loop_scope="module")
async def test_the_console_shows_and_changes_the_compose_mesh(
    mesh: MeshState, tmp_path: Path
) -> None:
    """The console through the compose backend: containers as nodes, Toxiproxy's links
    (behind the gate) with a janitor TTL, the token on every write."""
    server = ConsoleServer(ComposeBackend(tmp_path), mesh, port=0, out_root=tmp_path / "runs")
    await server.start()
    base = server.url.rstrip("/")
    try:
        assert server.token and server.page_url.endswith("#token=" + server.token)

        def sampled() -> dict[str, Any] | None:
            latest = server.hub.latest
            return latest if latest and latest["sample"] and not latest["problems"] else None

        snapshot = await eventually(sampled, timeout=30.0, what="a full compose snapshot")
        assert {n["name"] for n in snapshot["nodes"]} == set(mesh.nodes)
        links = {item["name"]: item for item in snapshot["links"]}
        assert links["api-1"]["proxy"] == "toxiproxy" and links["api-1"]["to"] == "api-1"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            fault = {"type": "latency", "attributes": {"latency": 100}, "ttl_s": 20}
            async with session.post(f"{base}/api/links/api-1/faults", json=fault) as response:
                assert response.status == 401
            async with session.post(
                f"{base}/api/links/api-1/faults", json=fault, headers=mesh.admin_headers
            ) as response:
                assert response.status == 201, await response.text()
                name = (await response.json())["fault"]["name"]

            def shown() -> dict[str, Any] | None:
                latest = server.hub.latest
                assert latest is not None
                api1 = next(item for item in latest["links"] if item["name"] == "api-1")
                return next((f for f in api1["faults"] if f["name"] == name), None)

            seen = await eventually(shown, timeout=10.0, what="the fault on api-1")
            assert seen["expires_in_s"] is not None and 0 < seen["expires_in_s"] <= 20
            async with session.post(
                f"{base}/api/reset", json={}, headers=mesh.admin_headers
            ) as response:
                assert response.status == 200
        assert all(not view.toxics for view in await Links(mesh).views())
    finally:
        await server.stop()


async def _post(url: str, headers: dict[str, str]) -> dict[str, Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=40)) as session:
        async with session.post(url, headers=headers) as response:
            body: dict[str, Any] = await response.json()
            assert response.status == 200, body
            return body


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("fallacy", COMPOSE_FALLACIES)
async def test_experiment_passes_against_the_containers(
    fallacy: int, mesh: MeshState, tmp_path: Path
) -> None:
    experiment = EXPERIMENTS[fallacy]
    journal = await Runner(mesh, quick=True, out_dir=tmp_path, target="compose").run_one(experiment)
    assert journal.status == "passed", describe(journal)
    assert journal.target == "compose"
    assert all(f.reverted or f.skipped for f in journal.faults)
    skipped = {f.kind for f in journal.faults if f.skipped}
    assert skipped == {1: {"http_status"}, 4: {"http_header"}}.get(fallacy, set())
    assert await leftovers(mesh) == []


async def crash_and_wait(
    target: Any, ready: Callable[[], Awaitable[bool]], *, timeout_s: float
) -> float | None:
    """SIGKILL the container's process, as the OOM killer would, and return the seconds
    until Docker's restart policy has restarted it and ``ready()`` holds (None: never).

    (`container.kill()` would not do: Docker counts it as a manual stop, which no restart
    policy undoes; the control service's `kill` is that, reverted at its TTL.)
    """
    restarts = target.attrs["RestartCount"]
    killed_at = time.monotonic()
    os.kill(int(target.attrs["State"]["Pid"]), signal.SIGKILL)
    while time.monotonic() - killed_at < timeout_s:
        await asyncio.to_thread(target.reload)
        if target.attrs["RestartCount"] > restarts and await ready():
            return time.monotonic() - killed_at
        await asyncio.sleep(0.1)
    return None


def resilient_journeys(text: str) -> tuple[float, float]:
    """(ok, all) journeys of the resilient client from the workload's exposition."""
    ok = total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "fallacies_workload_journeys_total"
                and sample.labels["client"] == "resilient"
            ):
                total += sample.value
                ok += sample.value if sample.labels["outcome"] == "ok" else 0.0
    return ok, total


@pytest.mark.asyncio(loop_scope="module")
async def test_a_killed_node_is_restarted_by_its_restart_policy_and_the_slo_holds(
    mesh: MeshState, docker_client: Any
) -> None:
    metrics = str(mesh.nodes["workload"].metrics_url)
    health = str(mesh.nodes["api-1"].health_url)

    async def journeys() -> tuple[float, float]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            async with session.get(metrics) as response:
                return resilient_journeys(await response.text())

    async def healthy() -> bool:
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:
                async with session.get(health) as response:
                    return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    ok_before, all_before = await journeys()
    killed_at = time.monotonic()
    back_in = await crash_and_wait(container(docker_client, "api-1"), healthy, timeout_s=60)
    assert back_in is not None, "api-1 was not restarted within 60 s"
    TIMINGS["api-1 killed -> restarted and healthy"] = back_in
    await asyncio.sleep(5)  # and the journeys right after it came back
    ok_after, all_after = await journeys()
    done = all_after - all_before
    assert done >= 10, f"only {done} resilient journeys in {time.monotonic() - killed_at:.0f} s"
    ratio = (ok_after - ok_before) / done
    assert ratio >= RESILIENT_SLO, f"resilient success ratio {ratio:.2f} while api-1 was down"
    assert (await control_nodes(mesh))["api-1"]["state"] == "running"


@pytest.mark.asyncio(loop_scope="module")
async def test_toxiproxy_restarted_or_crashed_is_reached_through_its_gate_again(
    mesh: MeshState, docker_client: Any
) -> None:
    """The gate shares Toxiproxy's network namespace, which a restart replaces: the
    control service restarts the gate with it, and after a crash the gate leaves on its
    own (--exit-after) so the restart policy puts it into the new one. Last in the
    module: Toxiproxy comes back with its links but without any toxics."""
    api = str(mesh.nodes["toxiproxy"].admin_url)

    async def answers() -> bool:
        try:
            async with Toxiproxy(api, headers=mesh.admin_headers, timeout=2) as client:
                return "api-1" in await client.proxies()
        except ToxiproxyError:
            return False

    answer = await _post(f"{mesh.control_url}/nodes/toxiproxy/restart", mesh.admin_headers)
    assert answer["state"] == "running", answer
    assert await answers()

    back_in = await crash_and_wait(container(docker_client, "toxiproxy"), answers, timeout_s=90)
    assert back_in is not None, "Toxiproxy's API did not answer through the gate within 90 s"
    TIMINGS["toxiproxy killed -> its API answers through the gate"] = back_in
    await wait_healthy(mesh, timeout_s=60)
