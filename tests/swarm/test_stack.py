"""The Swarm stack agrees with ``chaos.compose.topology`` and keeps the mesh's rules:
nothing published (Swarm would publish on every interface), every admin API behind
the token, configs the nodes accept once their names are resolved. No daemon needed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.compose import render, topology
from chaos.node.names import PLACEHOLDER, _substitute
from chaos.proxy.config import parse_populate
from chaos.swarm import stack
from services.api import ApiConfig
from services.common.admin_token import ENV as ADMIN_ENV
from services.dns import Zone
from services.workload.config import WorkloadConfig
from tests.conftest import require_tool

NODES = {*render.APP_NODES, "toxiproxy"}


def _stack() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(stack.STACK_FILE.read_text(encoding="utf-8"))
    return data


def test_the_stack_and_its_configs_are_rendered_from_the_topology() -> None:
    assert stack.stale() == [], "run python -m chaos.swarm.stack"
    assert set(_stack()["services"]) == {*NODES, "prometheus"}


def test_nothing_is_published_and_every_service_asks_the_engines_dns_for_tasks() -> None:
    for name, service in _stack()["services"].items():
        assert "ports" not in service, name
        assert service["deploy"]["endpoint_mode"] == "dnsrr", name
        assert service["deploy"]["restart_policy"]["condition"] == "any", name
        assert "healthcheck" in service, name
    assert _stack()["networks"][stack.NETWORK] == {"driver": "overlay", "attachable": True}
    # The compose mesh's volume is fallacies_prometheus-data too: one engine, two owners.
    assert set(_stack()["volumes"]) == {"swarm-prometheus-data"}


def test_every_admin_api_wants_the_token_and_toxiproxy_sits_behind_its_gate() -> None:
    services = _stack()["services"]
    for name in NODES - {"workload"}:
        assert services[name]["environment"][ADMIN_ENV] == "${FALLACIES_ADMIN_TOKEN:-}", name
    assert ADMIN_ENV not in services["workload"]["environment"]
    command = services["toxiproxy"]["command"][-1]
    assert "toxiproxy-server -host=127.0.0.1 -port=8474" in command
    assert "chaos.compose.toxiproxy_gate --host=0.0.0.0 --port=8475" in command


def test_nodes_are_unprivileged_and_read_only_and_the_replicas_spread() -> None:
    services = _stack()["services"]
    for name in NODES:
        assert services[name]["read_only"] is True, name
        assert services[name]["cap_drop"] == ["ALL"], name
        assert "user" not in services[name], name
    for name in ("api-1", "api-2"):
        placement = services[name]["deploy"]["placement"]
        assert placement["preferences"] == [{"spread": "node.id"}]
        # Anywhere unless `up` says the workers (there are some): one file for both.
        assert placement["constraints"] == [
            "${FALLACIES_SERVER_PLACEMENT:-node.platform.os == linux}"
        ]
    for name in [*NODES, "toxiproxy", "prometheus"]:
        if name not in ("api-1", "api-2"):
            constraints = services[name]["deploy"]["placement"]["constraints"]
            assert constraints == ["node.role == manager"], name


def test_every_config_is_a_file_named_by_its_content_and_every_node_mounts_its_own() -> None:
    data = _stack()
    for key, config in data["configs"].items():
        path = (stack.STACK_FILE.parent / config["file"]).resolve()
        assert path.is_file(), key
        assert config["name"].startswith(f"{stack.STACK}-{key}-"), key
    for name in render.APP_NODES:
        (mount,) = data["services"][name]["configs"]
        assert mount["target"] == f"/config/{name}.json"
        assert data["services"][name]["command"][-1] == mount["target"]


def _resolved(name: str) -> dict[str, Any]:
    text = (stack.SWARM_DIR / f"{name}.json").read_text(encoding="utf-8")
    names = set(PLACEHOLDER.findall(text))
    ips = {n: f"10.0.9.{i + 2}" for i, n in enumerate(sorted(names))}
    config: dict[str, Any] = _substitute(json.loads(text), ips)
    return config


def test_node_configs_are_accepted_by_the_nodes_once_names_are_addresses() -> None:
    for name in ("api-1", "api-2", "rogue"):
        ApiConfig.from_dict(_resolved(name))
    WorkloadConfig.from_dict(_resolved("workload"))
    zone = Zone.from_dict(_resolved("dns")["zone"])
    assert zone.origin.to_text() == "mesh.test."
    parse_populate(_resolved("proxy")["proxies"])
    parse_populate(json.loads((stack.SWARM_DIR / "toxiproxy.json").read_text(encoding="utf-8")))


def test_the_carriers_dial_by_name_and_the_clients_get_addresses() -> None:
    toxiproxy = json.loads((stack.SWARM_DIR / "toxiproxy.json").read_text(encoding="utf-8"))
    assert {p["upstream"].split(":")[0] for p in toxiproxy} == {"dns", "api-1", "api-2"}
    workload = json.loads((stack.SWARM_DIR / "workload.json").read_text(encoding="utf-8"))
    assert workload["dns"] == {"udp": "{{ip:proxy}}:53", "tcp": "{{ip:toxiproxy}}:53"}
    records = _resolved("dns")["zone"]["records"]
    api = next(r for r in records if r["name"] == "api-1" and r["type"] == "A")
    assert api["values"][0].startswith("10.0.9.")


def test_prometheus_finds_every_task_and_labels_it_like_the_compose_mesh() -> None:
    config = yaml.safe_load((stack.SWARM_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    (mesh,) = [job for job in config["scrape_configs"] if job["job_name"] == "mesh"]
    assert mesh["dockerswarm_sd_configs"][0]["role"] == "tasks"
    targets = {r.get("target_label") for r in mesh["relabel_configs"]}
    assert {"node", "job", "__address__", "__metrics_path__", "engine"} <= targets
    labels = {n: s["deploy"]["labels"] for n, s in _stack()["services"].items() if n in NODES}
    assert {labels[n]["org.fallacies.node"] for n in NODES} == NODES
    assert labels["api-1"]["org.fallacies.job"] == "api"


def test_the_gateway_publishes_the_compose_ports_to_the_nodes_by_name() -> None:
    config = stack.gateway_config()
    assert config["api_host"] == "127.0.0.1"
    listens = {int(p["listen"].rsplit(":", 1)[1]) for p in config["proxies"]}
    published = {port for (node, _), port in topology.PUBLISHED.items() if node != "grafana"}
    assert listens == published
    upstream = {p["name"]: p["upstream"] for p in config["proxies"]}
    assert upstream["toxiproxy-api"] == f"toxiproxy:{topology.TOXIPROXY_GATE_PORT}"
    assert upstream["dns-admin"] == f"dns:{topology.ADMIN_PORT}"
    parse_populate(config["proxies"])


@pytest.mark.tool("docker")
def test_docker_accepts_the_stack_file() -> None:
    docker = require_tool("docker")
    env = {k: v for k, v in os.environ.items() if k != ADMIN_ENV}
    done = subprocess.run(
        [docker, "stack", "config", "-c", str(stack.STACK_FILE)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "FALLACIES_IMAGE": "fallacies/mesh:test"},
    )
    assert done.returncode == 0, done.stderr
    merged = yaml.safe_load(done.stdout)
    assert merged["services"]["dns"]["image"] == "fallacies/mesh:test"
    assert set(merged["services"]) == {*NODES, "prometheus"}


def test_a_plain_stack_deploy_reads_the_images_the_offline_build_names() -> None:
    text = stack.STACK_FILE.read_text(encoding="utf-8")
    for variable in ("FALLACIES_IMAGE", "TOXIPROXY_GATED_IMAGE", "PROMETHEUS_IMAGE"):
        assert "${" + variable + ":-" in text, variable
    build = (Path(stack.ROOT) / "compose" / "build-images.sh").read_text(encoding="utf-8")
    assert "TOXIPROXY_GATED_IMAGE=$TOXIPROXY_GATED_IMAGE" in build


def test_the_runner_sees_carriers_by_address_and_every_other_node_by_name() -> None:
    from chaos.swarm.lifecycle import SwarmError, host_view, swarm_state

    ips = host_view({"proxy": "10.0.9.30", "toxiproxy": "10.0.9.31", "api-1": "10.0.9.21"})
    state = swarm_state("t", ips)
    # A fault that puts an upstream back dials by name: a moved task is still found.
    assert state.links["api-1"].upstream == "api-1:8000"
    assert state.links["api-1"].listen == "10.0.9.31:8001"
    assert state.links["dns"].listen == "10.0.9.30:53"
    assert state.nodes["rogue"].listen["http"] == "rogue:8000"
    with pytest.raises(SwarmError, match="no running task of toxiproxy"):
        host_view({"proxy": "10.0.9.30"})


@pytest.mark.tool("promtool")
def test_promtool_accepts_the_stacks_prometheus_config() -> None:
    promtool = require_tool("promtool")
    done = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"],
        cwd=stack.SWARM_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
