"""The Swarm stack for real, on this engine as a one-node swarm, driven as a user would:
``fallacies up --swarm`` of three replicas and two workload pairs, the admin ports on
loopback only and behind the token, DNS and replication reaching the third replica, the
runner summing both workloads, a task killed and replaced by the swarm, ``fallacies down
--swarm`` and nothing left behind. The experiments run on a swarm of three engines at
the default scale (test_lab.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos.compose import topology
from chaos.mesh.model import Scale
from chaos.mesh.state import MeshState
from chaos.swarm import lifecycle
from chaos.swarm.stack import STACK
from services.common.admin_token import ENV as ADMIN_ENV
from services.common.admin_token import HEADER as ADMIN_HEADER
from tests.compose.conftest import missing
from tests.swarm.conftest import build_images

pytestmark = [pytest.mark.tool("docker"), pytest.mark.timeout(900)]

STACK_LABEL = f"label=com.docker.stack.namespace={STACK}"
SCALE = Scale(api=3, workloads=2)


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ADMIN_ENV}
    return subprocess.run(
        [sys.executable, "-m", "chaos.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**env, "COLUMNS": "200"},
    )


def docker_out(docker: str, *args: str) -> str:
    done = subprocess.run([docker, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def leftovers(docker: str) -> dict[str, list[str]]:
    """What the stack or ``up`` could leave on the engine."""
    return {
        "services": docker_out(docker, "service", "ls", "-q", "--filter", STACK_LABEL).split(),
        "containers": docker_out(docker, "ps", "-aq", "--filter", STACK_LABEL).split(),
        "networks": docker_out(docker, "network", "ls", "-q", "--filter", STACK_LABEL).split(),
        "configs": docker_out(docker, "config", "ls", "-q", "--filter", STACK_LABEL).split(),
        "volumes": docker_out(docker, "volume", "ls", "-q", "--filter", STACK_LABEL).split(),
        "own": docker_out(
            docker, "ps", "-aq", "--filter", f"label={lifecycle.OWN_LABEL}={STACK}"
        ).split(),
    }


@pytest.fixture(scope="module")
def stack(swarm: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The stack deployed by the CLI for the module, removed (and checked) after."""
    docker = swarm
    if any(leftovers(docker).values()):
        missing(f"a stack named {STACK!r} exists already: `fallacies down --swarm` first")
    build_images()
    state_dir = tmp_path_factory.mktemp("swarm-state")
    try:
        up = cli(
            "up", "--swarm", "--detach", "--no-console", "--state-dir", str(state_dir),
            "--api-replicas", str(SCALE.api), "--workloads", str(SCALE.workloads),
        )  # fmt: skip
        assert up.returncode == 0, up.stdout + up.stderr
        yield state_dir
    finally:
        down = cli("down", "--swarm", "--state-dir", str(state_dir))
        assert down.returncode == 0, down.stdout + down.stderr
        assert leftovers(docker) == {k: [] for k in leftovers(docker)}


def state_of(state_dir: Path) -> MeshState:
    state = MeshState.read(state_dir / "swarm")
    assert state is not None
    return state


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:  # the gateway's upstream is not there (yet): no answer
        return 0, None


def test_every_node_is_healthy_and_the_host_reaches_them_on_loopback_only(
    swarm: str, stack: Path
) -> None:
    status = cli("status", "--swarm", "--state-dir", str(stack))
    assert status.returncode == 0, status.stdout + status.stderr
    for service in docker_out(swarm, "service", "ls", "-q", "--filter", STACK_LABEL).split():
        spec = json.loads(docker_out(swarm, "service", "inspect", service))[0]
        assert not spec["Endpoint"].get("Ports"), spec["Spec"]["Name"]
    ports = docker_out(swarm, "port", lifecycle.GATEWAY).split()
    bound = [p for p in ports if ":" in p]
    assert bound and all(p.startswith("127.0.0.1:") for p in bound), ports


def test_every_admin_api_wants_the_token_the_stack_was_started_with(stack: Path) -> None:
    state = state_of(stack)
    for name, path in (("dns", "/zone"), ("toxiproxy", "/proxies"), ("api-1", "/admin/keys")):
        url = f"{state.nodes[name].admin_url}{path}"
        assert get(url)[0] == 401, url
        assert get(url, {ADMIN_HEADER: "guess"})[0] == 401, url
        assert get(url, state.admin_headers)[0] == 200, url


def test_prometheus_finds_every_task_and_names_its_engine(stack: Path) -> None:
    state = state_of(stack)
    api = f"http://127.0.0.1:{topology.PUBLISHED[('prometheus', 'http')]}/api/v1"
    deadline = time.monotonic() + 60
    while True:
        targets = get(f"{api}/targets")[1]["data"]["activeTargets"]
        health = {t["labels"]["node"]: t["health"] for t in targets}
        if health == {name: "up" for name in [*state.nodes, "prometheus"]}:
            break
        assert time.monotonic() < deadline, health
        time.sleep(1)
    engines = {t["labels"].get("engine") for t in targets if t["labels"]["node"] != "prometheus"}
    assert len(engines) == 1 and None not in engines


def _counter(url: str, name: str, **labels: str) -> float:
    import urllib.request

    from chaos.signals.sampler import parse_exposition

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            values = parse_exposition(response.read().decode(), "x")
    except OSError:
        return 0.0
    wanted = set(labels.items())
    return sum(v for (n, ls), v in values.items() if n == name and wanted <= set(ls))


def test_dns_and_replication_reach_the_third_replica(stack: Path) -> None:
    state = state_of(stack)
    metrics = {name: state.nodes[name].metrics_url or "" for name in state.nodes}
    deadline = time.monotonic() + 90
    while True:
        seen = {
            # The SRV answer listed api-3: the second workload's clients sent it requests.
            "workload-2 → api-3": _counter(
                metrics["workload-2"], "fallacies_workload_requests_total", replica="api-3"
            ),
            "api-1 → api-3 replicated": _counter(
                metrics["api-1"], "fallacies_api_replication_attempts_total", peer="api-3",
                outcome="ok",
            ),
            "api-3 applied replicated writes": _counter(
                metrics["api-3"], "fallacies_api_writes_total", source="replication",
                outcome="applied",
            ),
        }  # fmt: skip
        if all(seen.values()):
            break
        assert time.monotonic() < deadline, seen
        time.sleep(1)


def test_the_runners_signals_sum_both_workloads(stack: Path) -> None:
    import asyncio

    from chaos.signals.sampler import Sampler
    from chaos.signals.window import increase, sel

    state = state_of(stack)
    journeys = sel("fallacies_workload_journeys_total")

    async def grown() -> tuple[float, float, float]:
        async with Sampler(state.metrics_targets(), timeout=5) as sampler:
            first = await sampler.scrape(0)
            deadline = time.monotonic() + 60
            while True:
                window = [first, await sampler.scrape(time.monotonic())]
                each = [
                    increase(window, sel(f'fallacies_workload_journeys_total{{node="{n}"}}')) or 0.0
                    for n in SCALE.workload_nodes
                ]
                if all(each) or time.monotonic() > deadline:
                    return each[0], each[1], increase(window, journeys) or 0.0
                await asyncio.sleep(1)

    first, second, total = asyncio.run(grown())
    assert first > 0 and second > 0, (first, second)
    assert total == first + second


def test_a_killed_task_is_replaced_by_the_swarm(swarm: str, stack: Path) -> None:
    before = docker_out(
        swarm, "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={STACK}_rogue"
    )
    killed = cli("node", "rogue", "kill", "--swarm", "--state-dir", str(stack))
    assert killed.returncode == 0, killed.stdout + killed.stderr
    state = state_of(stack)
    deadline = time.monotonic() + 90
    while True:
        now = docker_out(
            swarm, "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={STACK}_rogue"
        )
        if now.split() and now != before and get(state.nodes["rogue"].health_url)[0] == 200:
            break
        assert time.monotonic() < deadline, "the swarm did not replace the killed task"
        time.sleep(0.5)
