"""The compose files agree with each other and with ``chaos.compose.topology``; no containers.

``docker compose config`` needs the CLI and the Compose plugin but no daemon.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.compose import render, topology
from chaos.compose.state import compose_state, read_state, write_state
from chaos.faults._common import NODE_TARGETS
from chaos.faults.dns_record import mesh_records
from chaos.mesh.model import LINK_NAMES, LINKS
from chaos.proxy.config import parse_populate
from services.api import ApiConfig
from services.common.admin_token import ENV as ADMIN_ENV
from services.dns import Zone
from services.workload.config import WorkloadConfig
from tests.compose.conftest import COMPOSE_DIR, COMPOSE_FILE, require_compose
from tests.conftest import require_tool

IMAGE_DEFAULTS = {
    "FALLACIES_IMAGE": "fallacies/mesh:latest",
    "TOXIPROXY_IMAGE": "ghcr.io/shopify/toxiproxy:2.12.0",
    "PROMETHEUS_IMAGE": "prom/prometheus:v2.53.0",
    "GRAFANA_IMAGE": "grafana/grafana:11.1.0",
}
MESH_SERVICES = {
    "dns",
    "ntp-a",
    "ntp-b",
    "ntp-c",
    "api-1",
    "api-2",
    "rogue",
    "proxy",
    "toxiproxy",
    "toxiproxy-gate",
    "workload",
    "control",
    "prometheus",
}
TOKEN_SERVICES = {"dns", "ntp-a", "ntp-b", "ntp-c", "api-1", "api-2", "rogue", "proxy"} | {
    "toxiproxy-gate",
    "control",
}
"""Every service with an admin or fault API the host can reach."""


def compose_config(*extra: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    docker = require_compose()
    dropped = {*IMAGE_DEFAULTS, "BASE_IMAGE", ADMIN_ENV}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    done = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_FILE), *extra, "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = json.loads(done.stdout)
    return config


@pytest.mark.tool("docker")
def test_compose_config_is_valid_and_names_the_project() -> None:
    config = compose_config()
    assert config["name"] == topology.PROJECT
    assert set(config["services"]) == MESH_SERVICES  # grafana only with its profile
    with_grafana = compose_config("--profile", "grafana")
    assert set(with_grafana["services"]) == MESH_SERVICES | {"grafana"}
    assert with_grafana["services"]["grafana"]["profiles"] == ["grafana"]


@pytest.mark.tool("docker")
def test_images_are_pinned_and_overridable() -> None:
    services = compose_config("--profile", "grafana")["services"]
    assert services["toxiproxy"]["image"] == IMAGE_DEFAULTS["TOXIPROXY_IMAGE"]
    assert services["prometheus"]["image"] == IMAGE_DEFAULTS["PROMETHEUS_IMAGE"]
    assert services["grafana"]["image"] == IMAGE_DEFAULTS["GRAFANA_IMAGE"]
    own = {name for name, s in services.items() if s["image"] == IMAGE_DEFAULTS["FALLACIES_IMAGE"]}
    assert own == MESH_SERVICES - {"toxiproxy", "prometheus"}
    for name in own:
        build = services[name]["build"]
        assert Path(build["context"]) == COMPOSE_DIR.parent
        assert build["args"]["BASE_IMAGE"] == "python:3.11-slim"
    overrides = {var: f"local/{var.lower()}:test" for var in IMAGE_DEFAULTS}
    overridden = compose_config(
        "--profile", "grafana", env={**overrides, "BASE_IMAGE": "local/base:test"}
    )["services"]
    assert overridden["toxiproxy"]["image"] == overrides["TOXIPROXY_IMAGE"]
    assert overridden["prometheus"]["image"] == overrides["PROMETHEUS_IMAGE"]
    assert overridden["grafana"]["image"] == overrides["GRAFANA_IMAGE"]
    assert overridden["dns"]["image"] == overrides["FALLACIES_IMAGE"]
    assert overridden["dns"]["build"]["args"]["BASE_IMAGE"] == "local/base:test"


@pytest.mark.tool("docker")
def test_every_port_is_published_on_loopback_only_and_matches_the_topology() -> None:
    services = compose_config("--profile", "grafana")["services"]
    published: dict[tuple[str, str], int] = {}
    container_ports = {
        "http": {"api-1": 8000, "api-2": 8000, "rogue": 8000, "workload": 9100},
        "admin": 8080,
        "api": {"proxy": 8474, "toxiproxy": topology.TOXIPROXY_GATE_PORT},
    }
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", (name, port)
            role = next(
                role
                for (node, role), host_port in topology.PUBLISHED.items()
                if node == name and host_port == int(port["published"])
            )
            published[(name, role)] = int(port["published"])
            expected = container_ports.get(role, 0)
            if isinstance(expected, dict):
                expected = expected.get(name, {"prometheus": 9090, "grafana": 3000}.get(name, 0))
            assert port["target"] == expected, (name, role, port)
    assert published == topology.PUBLISHED


@pytest.mark.tool("docker")
def test_every_admin_api_gets_the_token_and_toxiproxy_hides_behind_its_gate() -> None:
    services = compose_config(env={"FALLACIES_ADMIN_TOKEN": "s3cret"})["services"]
    given = {n for n, s in services.items() if s.get("environment", {}).get(ADMIN_ENV)}
    assert given == TOKEN_SERVICES
    assert {services[n]["environment"][ADMIN_ENV] for n in given} == {"s3cret"}
    assert "-host=127.0.0.1" in services["toxiproxy"]["command"]
    assert not any(s.get("ports") for n, s in services.items() if n == "toxiproxy-gate")
    grafana = compose_config("--profile", "grafana")["services"]["grafana"]["environment"]
    assert grafana["GF_SECURITY_DISABLE_INITIAL_ADMIN_CREATION"] == "true"  # no admin/admin
    assert grafana["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert not any("PASSWORD" in key for key in grafana)
    # Without the variable compose still works (down, ps): the APIs come up locked.
    unset = compose_config(env={ADMIN_ENV: ""})["services"]
    assert {unset[n]["environment"][ADMIN_ENV] for n in TOKEN_SERVICES} == {""}


@pytest.mark.tool("docker")
def test_static_addresses_match_the_topology() -> None:
    config = compose_config("--profile", "grafana")
    assert config["networks"]["mesh"]["ipam"]["config"] == [{"subnet": topology.SUBNET}]
    for name, service in config["services"].items():
        if name == "control":
            assert service["network_mode"] == "host"
            continue
        if name == "toxiproxy-gate":
            assert service["network_mode"] == "service:toxiproxy"
            continue
        assert service["networks"]["mesh"]["ipv4_address"] == topology.IPS[name], name


@pytest.mark.tool("docker")
def test_every_service_has_a_healthcheck_and_a_restart_policy() -> None:
    services = compose_config("--profile", "grafana")["services"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), name
        assert service["restart"] == "unless-stopped", name
    workload = services["workload"]["depends_on"]
    assert set(workload) == MESH_SERVICES - {"rogue", "workload", "control", "prometheus"}
    assert {dep["condition"] for dep in workload.values()} == {"service_healthy"}
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"


@pytest.mark.tool("docker")
def test_control_is_on_loopback_with_the_docker_socket_and_only_it_is_root() -> None:
    services = compose_config()["services"]
    control = services["control"]
    command = control["command"]
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert int(command[command.index("--port") + 1]) == topology.CONTROL_PORT
    assert any(v["target"] == "/var/run/docker.sock" for v in control["volumes"])
    assert control["user"] == "root"
    for name, service in services.items():
        if name in ("control", "prometheus"):
            continue
        assert service.get("user") in (None, "65534:65534"), name
        assert "ALL" in service.get("cap_drop", []), name


@pytest.mark.tool("docker")
def test_nodes_run_their_config_files() -> None:
    services = compose_config()["services"]
    for name in render.APP_NODES:
        command = services[name]["command"]
        assert command[:3] == ["python", "-m", "chaos.node"], name
        assert command[-2:] == ["--config", f"/config/{name}.json"], name
        assert command[3] == topology.compose_plan().node(name).kind
    assert "-config=/config/toxiproxy.json" in services["toxiproxy"]["command"]


def test_a_comment_stands_above_every_service() -> None:
    lines = COMPOSE_FILE.read_text(encoding="utf-8").splitlines()
    start = lines.index("services:")
    end = next(i for i in range(start + 1, len(lines)) if re.match(r"^[a-z]", lines[i]))
    names = []
    for index in range(start + 1, end):
        match = re.match(r"^  ([a-z0-9-]+):$", lines[index])
        if match:
            names.append(match.group(1))
            assert lines[index - 1].lstrip().startswith("#"), match.group(1)
    assert set(names) == MESH_SERVICES | {"grafana"}


def test_rendered_configs_are_current() -> None:
    assert render.stale(COMPOSE_DIR / "config") == [], "run python -m chaos.compose.render"


def test_node_configs_are_accepted_by_the_nodes() -> None:
    config_dir = COMPOSE_DIR / "config"

    def load(name: str) -> Any:
        return json.loads((config_dir / name).read_text(encoding="utf-8"))

    for name in ("api-1", "api-2", "rogue"):
        ApiConfig.from_dict(load(f"{name}.json"))
    WorkloadConfig.from_dict(load("workload.json"))
    udp = parse_populate(load("proxy.json")["proxies"])
    assert {spec.name for spec in udp} == {"dns", "ntp-a", "ntp-b", "ntp-c"}
    tcp = parse_populate(load("toxiproxy.json"))
    assert {spec.name for spec in tcp} == {"dns-tcp", "api-1", "api-2", "repl-1-2", "repl-2-1"}
    assert {spec.name for spec in udp + tcp} == set(LINK_NAMES)


def test_zone_file_holds_the_mesh_records() -> None:
    zone = Zone.from_file(COMPOSE_DIR / "config" / "zone.yaml")
    for record in mesh_records(compose_state()):
        found = zone.get(record["name"], record["type"])
        assert found is not None, record
        assert found.ttl == record["ttl"], record
        if "values" in record:
            assert found.values == record["values"], record
    api = zone.get("api-1", "A")
    assert api is not None and api.values == [topology.IPS["toxiproxy"]]


def test_state_is_the_host_view_of_the_mesh() -> None:
    state = compose_state("t0k")
    assert set(state.links) == set(LINK_NAMES)
    assert {name: link.protocol for name, link in state.links.items()} == dict(LINKS)
    for name, link in state.links.items():
        carrier = "proxy" if link.protocol == "udp" else "toxiproxy"
        assert link.proxy == carrier, name
        assert link.api == f"http://127.0.0.1:{topology.PUBLISHED[(carrier, 'api')]}"
        assert link.listen.startswith(topology.IPS[carrier] + ":")
    assert set(state.nodes) - {"proxy", "toxiproxy", "workload"} <= set(NODE_TARGETS)
    for name, node in state.nodes.items():
        for url in (node.admin_url, node.metrics_url, node.health_url):
            assert url is not None and url.startswith("http://127.0.0.1:184"), name
    assert state.control_url == f"http://127.0.0.1:{topology.CONTROL_PORT}"
    assert set(state.secrets) == {"admin_token", "bootstrap_token", "key_id", "key_secret"}
    assert state.admin_headers == {"X-Fallacies-Admin-Token": "t0k"}
    assert "admin_token" not in compose_state().secrets  # no static token in the repository


def test_state_file_round_trips_privately(tmp_path: Path) -> None:
    path = write_state(tmp_path, "kept-token")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.parent == tmp_path / "compose"
    assert read_state(tmp_path) == compose_state("kept-token")


def test_prometheus_scrapes_every_node_with_its_name() -> None:
    config = yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text())
    targets = {
        group["labels"]["node"]: (job["job_name"], group["targets"])
        for job in config["scrape_configs"]
        for group in job["static_configs"]
    }
    plan = topology.compose_plan()
    for node in plan.nodes:
        assert node.metrics_url is not None
        port = int(node.metrics_url.rsplit(":", 1)[1].split("/")[0])  # host port ...
        role = next(r for (n, r), p in topology.PUBLISHED.items() if n == node.name and p == port)
        inside = node.listen[role]  # ... and the address Prometheus reaches in the network
        job, addresses = targets.pop(node.name)
        assert addresses == [inside], node.name
        assert job == ("rogue" if node.name == "rogue" else node.kind)
    assert set(targets) == {"prometheus"}


@pytest.mark.tool("promtool")
def test_promtool_accepts_the_prometheus_config() -> None:
    promtool = require_tool("promtool")
    done = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"],
        cwd=COMPOSE_DIR / "prometheus",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"SUCCESS: [1-9]\d* rule files found", done.stdout), done.stdout


def test_build_script_and_dockerfiles() -> None:
    script = COMPOSE_DIR / "build-images.sh"
    assert os.access(script, os.X_OK)
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    dockerfile = (COMPOSE_DIR / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim" in dockerfile
    assert "--no-index" in dockerfile
    assert (COMPOSE_DIR / "wheels").is_dir()  # COPY needs it even when empty


def test_the_admin_token_comes_from_the_environment_then_the_kept_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaos.compose import lifecycle

    monkeypatch.delenv(ADMIN_ENV, raising=False)
    assert lifecycle.admin_token(state_dir=tmp_path) is None
    write_state(tmp_path, "kept")
    assert lifecycle.admin_token(state_dir=tmp_path) == "kept"
    assert lifecycle.known_state(tmp_path).admin_headers == {"X-Fallacies-Admin-Token": "kept"}
    monkeypatch.setenv(ADMIN_ENV, "exported")
    assert lifecycle.admin_token(state_dir=tmp_path) == "exported"
    assert lifecycle.admin_token({ADMIN_ENV: "given"}, tmp_path) == "given"
