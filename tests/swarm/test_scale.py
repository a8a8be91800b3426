"""A stack of N API replicas and M workload pairs (``Scale``): every replica replicates
to every other over a link of its own, DNS answers SRV with all of them, every
workload is scraped and every fault acting on the replicas reaches them all. No
daemon needed, but for ``docker stack config``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.compose import topology
from chaos.faults._common import mesh_replicas
from chaos.faults.dns_record import mesh_records
from chaos.mesh.model import (
    DEFAULT_SCALE,
    LINKS,
    MAX_API_REPLICAS,
    MAX_WORKLOAD_PAIRS,
    Scale,
    api_replicas,
)
from chaos.node.names import PLACEHOLDER, _substitute
from chaos.proxy.config import parse_populate
from chaos.swarm import stack
from chaos.swarm.lifecycle import host_view, swarm_state
from services.api import ApiConfig
from services.common.admin_token import ENV as ADMIN_ENV
from services.dns import Zone
from services.workload.config import WorkloadConfig
from tests.conftest import require_tool

SCALE = Scale(api=4, workloads=3)


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return stack.write_scaled(SCALE, tmp_path_factory.mktemp("scaled"))


def _config(scaled: Path, name: str) -> dict[str, Any]:
    text = (scaled.parent / "swarm" / f"{name}.json").read_text(encoding="utf-8")
    names = sorted(set(PLACEHOLDER.findall(text)))
    config: dict[str, Any] = _substitute(
        json.loads(text), {n: f"10.0.9.{i + 2}" for i, n in enumerate(names)}
    )
    return config


def test_the_default_scale_is_the_mesh_every_backend_runs() -> None:
    assert DEFAULT_SCALE.links == dict(LINKS)
    assert DEFAULT_SCALE.api_nodes == ("api-1", "api-2")
    assert DEFAULT_SCALE.workload_nodes == ("workload",)


@pytest.mark.parametrize("api", [2, 3, 8, MAX_API_REPLICAS])
def test_links_grow_as_every_replica_to_every_other(api: int) -> None:
    scale = Scale(api=api)
    repl = [name for name, _, _ in scale.replication]
    assert len(repl) == len(set(repl)) == api * (api - 1)
    assert len(scale.links) == 5 + api + api * (api - 1)
    ports = topology.link_ports(scale)
    toxiproxy = [port for carrier, port, _, _ in ports.values() if carrier == "toxiproxy"]
    assert len(toxiproxy) == len(set(toxiproxy)), "two TCP links on one port"


@pytest.mark.parametrize(
    ("api", "workloads"), [(1, 1), (MAX_API_REPLICAS + 1, 1), (2, 0), (2, MAX_WORKLOAD_PAIRS + 1)]
)
def test_a_scale_out_of_bounds_says_which_and_the_bounds(api: int, workloads: int) -> None:
    with pytest.raises(ValueError, match=r"must be \d+ to \d+, not"):
        Scale(api=api, workloads=workloads)


def test_replicas_are_told_apart_from_other_nodes_and_ordered_by_number() -> None:
    names = ["rogue", "api-10", "api-2", "workload-2", "api-1", "api-x", "api-01"]
    assert api_replicas(names) == ("api-1", "api-2", "api-10")


def test_each_node_keeps_its_host_port_whatever_the_scale() -> None:
    largest = topology.published(Scale(MAX_API_REPLICAS, MAX_WORKLOAD_PAIRS))
    assert len(set(largest.values())) == len(largest), "two nodes on one host port"
    for scale in (Scale(3, 2), SCALE):
        ports = topology.published(scale)
        assert all(largest[key] == port for key, port in ports.items())
    assert topology.published() == topology.PUBLISHED
    low, high = topology.PUBLISHED_RANGE
    assert (low, high) == (min(largest.values()), max(largest.values()))


def test_the_stack_runs_every_replica_and_workload_and_spreads_the_replicas(
    scaled: Path,
) -> None:
    services = yaml.safe_load(scaled.read_text(encoding="utf-8"))["services"]
    assert set(services) == {*SCALE.node_names, "toxiproxy", "prometheus"}
    for name in SCALE.api_nodes:
        assert services[name]["deploy"]["placement"] == stack.SPREAD, name
        assert services[name]["deploy"]["labels"]["org.fallacies.job"] == "api"
    for name in SCALE.workload_nodes:
        assert services[name]["deploy"]["placement"] == stack.ON_MANAGER, name
        assert services[name]["deploy"]["labels"]["org.fallacies.job"] == "workload"
        assert services[name]["deploy"]["labels"]["org.fallacies.node"] == name
        assert "FALLACIES_ADMIN_TOKEN" not in services[name]["environment"]


def test_every_replica_replicates_to_every_other_over_its_own_link(scaled: Path) -> None:
    toxiproxy = json.loads((scaled.parent / "swarm" / "toxiproxy.json").read_text("utf-8"))
    parse_populate(toxiproxy)
    carried = {p["name"]: p["upstream"] for p in toxiproxy}
    for name in SCALE.api_nodes:
        config = ApiConfig.from_dict(_config(scaled, name))
        assert set(config.peers) == set(SCALE.api_nodes) - {name}
        number = name.removeprefix("api-")
        for peer in config.peers:
            link = f"repl-{number}-{peer.removeprefix('api-')}"
            assert carried[link] == f"{peer}:{topology.HTTP_PORT}", link


def test_dns_answers_srv_with_every_replica_and_an_address_for_each(scaled: Path) -> None:
    zone = _config(scaled, "dns")["zone"]
    Zone.from_dict(zone)
    records = {(r["name"], r["type"]): r for r in zone["records"]}
    srv = records[("_api._tcp", "SRV")]["values"]
    assert [v["target"] for v in srv] == [f"{n}.mesh.test." for n in SCALE.api_nodes]
    assert [v["port"] for v in srv] == [topology.link_port(n, SCALE) for n in SCALE.api_nodes]
    for name in SCALE.api_nodes:
        assert records[(name, "A")]["values"][0].startswith("10.0.9."), name


def test_every_workload_knows_every_replica_it_may_be_answered_by(scaled: Path) -> None:
    for name in SCALE.workload_nodes:
        config = WorkloadConfig.from_dict(_config(scaled, name))
        assert config.api.replicas == SCALE.api_nodes


def test_the_gateway_publishes_the_extra_nodes_on_their_own_ports() -> None:
    config = stack.gateway_config(SCALE)
    parse_populate(config["proxies"])
    listens = {p["name"]: int(p["listen"].rsplit(":", 1)[1]) for p in config["proxies"]}
    assert listens["api-4-admin"] == topology.published_port("api-4", "admin")
    assert listens["workload-3-http"] == topology.published_port("workload-3", "http")
    upstream = {p["name"]: p["upstream"] for p in config["proxies"]}
    assert upstream["workload-3-http"] == f"workload-3:{topology.WORKLOAD_PORT}"


def test_the_runner_scrapes_every_workload_and_faults_reach_every_replica() -> None:
    ips = host_view({"proxy": "10.0.9.30", "toxiproxy": "10.0.9.31"}, SCALE)
    state = swarm_state("t", ips, SCALE)
    targets = state.metrics_targets()
    assert set(SCALE.workload_nodes) <= set(targets)
    assert (
        targets["workload-3"]
        == f"http://127.0.0.1:{topology.published_port('workload-3', 'http')}/metrics"
    )
    assert mesh_replicas(state) == SCALE.api_nodes
    # restore_dns puts back the SRV record of every replica, not of the default two.
    srv = next(r for r in mesh_records(state) if r["type"] == "SRV")
    assert len(srv["values"]) == SCALE.api


def test_the_cli_keeps_scale_to_the_swarm_and_in_bounds() -> None:
    def up(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "chaos.cli", "up", "--detach", "--no-console", *args],
            capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip

    embedded = up("--api-replicas", "3")
    assert embedded.returncode == 2 and "for the Swarm stack" in embedded.stderr
    too_many = up("--swarm", "--workloads", str(MAX_WORKLOAD_PAIRS + 1))
    assert too_many.returncode == 2
    assert f"workload pairs must be 1 to {MAX_WORKLOAD_PAIRS}" in too_many.stderr


@pytest.mark.tool("docker")
def test_docker_accepts_a_scaled_stack_file(scaled: Path) -> None:
    docker = require_tool("docker")
    env = {k: v for k, v in os.environ.items() if k != ADMIN_ENV}
    done = subprocess.run(
        [docker, "stack", "config", "-c", str(scaled)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    merged = yaml.safe_load(done.stdout)
    assert set(merged["services"]) == {*SCALE.node_names, "toxiproxy", "prometheus"}
    rules = [c for k, c in merged["configs"].items() if k.startswith("rules-")]
    assert rules and all(Path(c["file"]).is_file() for c in rules)
