"""The Swarm stack from the compose topology: ``compose/stack.yaml`` and ``compose/swarm/``.

    python -m chaos.swarm.stack          write the files
    python -m chaos.swarm.stack --check  exit 1 if a file differs from the topology

What Swarm changes, and how the stack answers it:

    no static addresses      configs name services ({{ip:NAME}}, resolved by each node
                             at start: chaos.node.names); Toxiproxy dials by name
    no virtual IPs here      every service is endpoint_mode: dnsrr (the engine's DNS
                             answers with the task's own address; VIPs need IPVS)
    ports published on       nothing is published by the stack: the host reaches the
    every interface          admin ports through a gateway container on the stack's
                             attachable network, published on 127.0.0.1 only
                             (chaos.swarm.lifecycle), and control runs beside it
    no shared namespaces     Toxiproxy and its token gate run in one task, from an
                             image holding both (compose/toxiproxy/Dockerfile.gated)
    no bind mounts across    every node's config is a Swarm config
    engines                  (compose/swarm/*.json, named by content hash)
    no fixed targets         Prometheus finds every task by dockerswarm_sd_configs
    several engines          the API replicas spread over the workers; the fabric, the
                             rogue and the workload stay on the managers (SERVERS)

``docker stack deploy -c compose/stack.yaml fallacies`` runs it too; every admin API
wants ``$FALLACIES_ADMIN_TOKEN`` as in the compose mesh.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from chaos.compose import render, topology
from chaos.mesh.model import DEFAULT_SCALE, MeshPlan, Scale, api_replicas

__all__ = [
    "NETWORK",
    "STACK",
    "STACK_FILE",
    "SWARM_DIR",
    "config_files",
    "gateway_config",
    "health",
    "is_server",
    "job",
    "render_stack",
    "rule_files",
    "write_scaled",
]

ROOT = Path(__file__).resolve().parents[2]
STACK_FILE = ROOT / "compose" / "stack.yaml"
SWARM_DIR = ROOT / "compose" / "swarm"
STACK = topology.PROJECT
PROMETHEUS_VOLUME = "swarm-prometheus-data"
"""Not the compose mesh's ``prometheus-data``: both would be ``fallacies_…`` on one engine,
and this one is written as root (the Docker socket), which the compose Prometheus cannot."""
NETWORK = "mesh"
"""The stack's overlay network; ``fallacies_mesh`` on the engine."""


def placeholders(scale: Scale = DEFAULT_SCALE) -> dict[str, str]:
    return {name: f"{{{{ip:{name}}}}}" for name in topology.by_name(scale)}


HEALTH = {
    "dns": (topology.ADMIN_PORT, "/healthz"),
    "ntp": (topology.ADMIN_PORT, "/healthz"),
    "api": (topology.HTTP_PORT, "/healthz"),
    "proxy": (topology.PROXY_API_PORT, "/version"),
    "toxiproxy": (topology.TOXIPROXY_GATE_PORT, "/version"),
    "workload": (topology.WORKLOAD_PORT, "/healthz"),
}
"""Node kind → (port, path) of its health check, and of the metrics Prometheus scrapes."""


def is_server(name: str) -> bool:
    """Spread over the engines, so a drained one moves them (``engine_drain``): over the
    workers when there are any (``fallacies up --swarm`` sets the variable below), each
    replica where the fewest tasks run. The rest stays on the managers: the mesh's fabric
    (DNS, time, the carriers, Prometheus; a moved carrier would take a new address the
    zone never learns), the workloads that watch, and the rogue, which is no replica."""
    return bool(api_replicas([name]))


SERVER_PLACEMENT = "FALLACIES_SERVER_PLACEMENT"
ANYWHERE = "node.platform.os == linux"
SPREAD: dict[str, Any] = {
    "constraints": [f"${{{SERVER_PLACEMENT}:-{ANYWHERE}}}"],
    "preferences": [{"spread": "node.id"}],
}
ON_MANAGER: dict[str, Any] = {"constraints": ["node.role == manager"]}


def health(kind: str) -> tuple[int, str]:
    """(port, path) of a node kind's health check, and of the metrics Prometheus scrapes."""
    return HEALTH[kind]


def job(name: str, kind: str) -> str:
    """A service's Prometheus job: its kind's, but the rogue's own (no replica's numbers)."""
    return name if name == "rogue" else kind


_HEADER = """\
# The fallacies mesh as a Docker Swarm stack (written by `python -m chaos.swarm.stack`
# from chaos/compose/topology.py; do not edit, a test keeps the two equal).
#
#   fallacies up --swarm        deploys it, with a gateway on 127.0.0.1:18401-18414
#   docker stack deploy -c compose/stack.yaml fallacies       (nothing published)
#
# Every service is endpoint_mode: dnsrr, configs name the services ({{ip:NAME}} is
# resolved by each node at start), and nothing is published: Swarm publishes on every
# interface, so the admin ports reach the host only through the gateway container
# `fallacies up --swarm` starts (published on 127.0.0.1). Export FALLACIES_ADMIN_TOKEN
# before a plain `docker stack deploy`; without it the admin APIs are locked (403).
"""

_HEALTHCHECK = (
    "exec 3<>/dev/tcp/127.0.0.1/$$HEALTH_PORT && "
    "printf 'GET %s HTTP/1.0\\r\\n\\r\\n' \"$$HEALTH_PATH\" >&3 && "
    'read -r _ code _ <&3 && [ "$$code" = 200 ]'
)


def _json(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


def _carried(by_name: MeshPlan, carrier: str) -> list[dict[str, Any]]:
    """A carrier's links as it creates them, dialling their upstreams by name (a task
    the swarm reschedules moves)."""
    return [topology.link_config(link) for link in by_name.links if link.proxy == carrier]


def config_files(scale: Scale = DEFAULT_SCALE) -> dict[str, str]:
    """File name → content of every file in ``compose/swarm`` (for the default scale)."""
    plan = topology.compose_plan(ips=placeholders(scale), scale=scale)
    dialled = topology.compose_plan(ips=topology.by_name(scale), scale=scale)
    files: dict[str, str] = {}
    for name in scale.node_names:
        config = dict(plan.node(name).config)
        if name == "dns":
            config["zone"] = yaml.safe_load(render.zone_yaml(plan, ns="{{ip:@self}}"))
        if name == "proxy":
            config["proxies"] = _carried(dialled, "proxy")
        files[f"{name}.json"] = _json(config)
    files["toxiproxy.json"] = _json(_carried(dialled, "toxiproxy"))
    files["prometheus.yml"] = _prometheus()
    return files


def _prometheus() -> str:
    relabel: list[dict[str, Any]] = [
        {
            "source_labels": ["__meta_dockerswarm_service_label_com_docker_stack_namespace"],
            "regex": STACK,
            "action": "keep",
        },
        {
            "source_labels": ["__meta_dockerswarm_service_label_org_fallacies_node"],
            "regex": ".+",
            "action": "keep",
        },
        {
            "source_labels": ["__meta_dockerswarm_network_name"],
            "regex": f"{STACK}_{NETWORK}",
            "action": "keep",
        },
        {
            "source_labels": ["__meta_dockerswarm_task_desired_state"],
            "regex": "running",
            "action": "keep",
        },
        {
            "source_labels": [
                "__meta_dockerswarm_task_container_id",
            ],
            "regex": ".+",
            "action": "keep",
        },
        {
            "source_labels": [
                "__address__",
                "__meta_dockerswarm_service_label_org_fallacies_metrics_port",
            ],
            "regex": "([^:]+)(?::\\d+)?;(\\d+)",
            "target_label": "__address__",
            "replacement": "$1:$2",
        },
        {
            "source_labels": ["__meta_dockerswarm_service_label_org_fallacies_metrics_path"],
            "target_label": "__metrics_path__",
        },
        {
            "source_labels": ["__meta_dockerswarm_service_label_org_fallacies_node"],
            "target_label": "node",
        },
        {
            "source_labels": ["__meta_dockerswarm_service_label_org_fallacies_job"],
            "target_label": "job",
        },
        {"source_labels": ["__meta_dockerswarm_node_hostname"], "target_label": "engine"},
    ]
    config = {
        "global": {
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "evaluation_interval": "1s",
            "external_labels": {"mesh": "swarm"},
        },
        "rule_files": ["rules/*.yaml"],
        "scrape_configs": [
            {
                "job_name": "mesh",
                "dockerswarm_sd_configs": [
                    {
                        "host": "unix:///var/run/docker.sock",
                        "role": "tasks",
                        "refresh_interval": "5s",
                    }
                ],
                "relabel_configs": relabel,
            },
            {
                "job_name": "prometheus",
                "static_configs": [
                    {"targets": ["127.0.0.1:9090"], "labels": {"node": "prometheus"}}
                ],
            },
        ],
    }
    head = (
        "# Prometheus for the Swarm stack (written by `python -m chaos.swarm.stack`): every\n"
        "# task of the stack found through the engine's API, labelled node and job as the\n"
        "# compose mesh's static targets are, plus the engine it runs on.\n"
    )
    return head + yaml.safe_dump(config, sort_keys=False, width=100)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def rule_files() -> dict[str, Path]:
    """Prometheus' rule files (dashboards/rules), by name."""
    return {path.name: path for path in sorted((ROOT / "dashboards" / "rules").glob("*.yaml"))}


def render_stack(
    files: dict[str, str] | None = None,
    scale: Scale = DEFAULT_SCALE,
    rules_dir: str = "../dashboards/rules",
) -> str:
    """``compose/stack.yaml``: the services, their configs and the network; ``rules_dir``
    is where Prometheus' rules are, from the stack file's folder."""
    files = files or config_files(scale)
    token = "${FALLACIES_ADMIN_TOKEN:-}"
    image = "${FALLACIES_IMAGE:-fallacies/mesh:latest}"
    configs: dict[str, Any] = {}
    for name, text in files.items():
        key = name.replace(".", "-")
        configs[key] = {"name": f"{STACK}-{key}-{_digest(text)}", "file": f"./swarm/{name}"}
    for name, path in rule_files().items():
        key = "rules-" + name.replace(".", "-")
        configs[key] = {
            "name": f"{STACK}-{key}-{_digest(path.read_text(encoding='utf-8'))}",
            "file": f"{rules_dir}/{name}",
        }
    services: dict[str, Any] = {}
    plan = topology.compose_plan(ips=topology.by_name(scale), scale=scale)
    for name in scale.node_names:
        kind = plan.node(name).kind
        services[name] = _node(
            name,
            kind,
            image=image,
            command=["python", "-m", "chaos.node", kind, "--config", f"/config/{name}.json"],
            token=token,
            configs=[_mount(name.replace(".", "-") + "-json", f"/config/{name}.json")],
        )
    services["toxiproxy"] = _node(
        "toxiproxy",
        "toxiproxy",
        image="${TOXIPROXY_GATED_IMAGE:-fallacies/mesh-toxiproxy:latest}",
        command=[
            "bash",
            "-c",
            # Toxiproxy's API takes no token: it listens on the task's loopback and the
            # gate beside it is the way in; if either ends, the task ends and is replaced.
            "toxiproxy-server -host=127.0.0.1 -port=8474 -config=/config/toxiproxy.json "
            "-proxy-metrics -runtime-metrics & exec python -m chaos.compose.toxiproxy_gate "
            "--host=0.0.0.0 --port=8475 --upstream=http://127.0.0.1:8474 --exit-after=5",
        ],
        token=token,
        configs=[_mount("toxiproxy-json", "/config/toxiproxy.json")],
        sysctls={"net.ipv4.tcp_syn_retries": 1},
    )
    services["prometheus"] = {
        "image": "${PROMETHEUS_IMAGE:-prom/prometheus:v2.53.0}",
        "command": [
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            "--storage.tsdb.retention.time=2d",
        ],
        # dockerswarm_sd_configs reads the manager's API through its socket.
        "user": "root",
        "volumes": [
            {
                "type": "bind",
                "source": "/var/run/docker.sock",
                "target": "/var/run/docker.sock",
                "read_only": True,
            },
            {"type": "volume", "source": PROMETHEUS_VOLUME, "target": "/prometheus"},
        ],
        "configs": [
            _mount("prometheus-yml", "/etc/prometheus/prometheus.yml"),
            *(
                _mount("rules-" + n.replace(".", "-"), f"/etc/prometheus/rules/{n}")
                for n in rule_files()
            ),
        ],
        "networks": [NETWORK],
        "healthcheck": _healthcheck(
            ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9090/-/ready"]
        ),
        "deploy": {
            "endpoint_mode": "dnsrr",
            "placement": copy.deepcopy(ON_MANAGER),
            "restart_policy": {"condition": "any", "delay": "1s"},
        },
    }
    stack = {
        "version": "3.8",
        "services": services,
        "networks": {NETWORK: {"driver": "overlay", "attachable": True}},
        "volumes": {PROMETHEUS_VOLUME: {}},
        "configs": configs,
    }
    return _HEADER + yaml.safe_dump(stack, sort_keys=False, width=100)


def _healthcheck(test: list[str]) -> dict[str, Any]:
    """As the compose mesh checks: every 2 s, three misses and the task is replaced."""
    return {"test": test, "interval": "2s", "timeout": "2s", "retries": 3, "start_period": "30s"}


def _mount(source: str, target: str) -> dict[str, Any]:
    return {"source": source, "target": target, "mode": 0o444}


def _node(
    name: str,
    kind: str,
    *,
    image: str,
    command: list[str],
    token: str,
    configs: list[dict[str, Any]],
    sysctls: dict[str, int] | None = None,
) -> dict[str, Any]:
    port, path = health(kind)
    placement = copy.deepcopy(SPREAD if is_server(name) else ON_MANAGER)
    return {
        "image": image,
        "command": command,
        "environment": {
            "HEALTH_PORT": str(port),
            "HEALTH_PATH": path,
            # The workload has no admin API: its config refuses a token.
            **({} if kind == "workload" else {"FALLACIES_ADMIN_TOKEN": token}),
        },
        "read_only": True,
        "cap_drop": ["ALL"],
        "sysctls": {"net.ipv4.ip_unprivileged_port_start": 0, **(sysctls or {})},
        "volumes": [{"type": "tmpfs", "target": "/tmp"}],
        "configs": configs,
        "networks": [NETWORK],
        "stop_grace_period": "5s",
        "healthcheck": _healthcheck(["CMD", "bash", "-c", _HEALTHCHECK]),
        "deploy": {
            "endpoint_mode": "dnsrr",
            "replicas": 1,
            "labels": {
                "org.fallacies.node": name,
                "org.fallacies.job": job(name, kind),
                "org.fallacies.metrics-port": str(port),
                "org.fallacies.metrics-path": "/metrics",
            },
            "restart_policy": {"condition": "any", "delay": "1s"},
            "placement": placement,
        },
    }


def gateway_config(scale: Scale = DEFAULT_SCALE) -> dict[str, Any]:
    """The gateway's proxy config: one plain TCP link per published admin port, on the
    same port inside, to where the node listens in the stack, by name (the gateway's own
    API stays on its loopback)."""
    plan = topology.compose_plan(ips=topology.by_name(scale), scale=scale)
    links = []
    for (node, role), published in topology.published(scale).items():
        if node == "grafana":
            continue
        if node == "prometheus":  # not a node of the plan
            upstream = f"{node}:{topology.PROMETHEUS_PORT}"
        else:
            upstream = plan.node(node).listen[role]
        links.append(
            {
                "name": f"{node}-{role}",
                "listen": f"0.0.0.0:{published}",
                "upstream": upstream,
                "enabled": True,
            }
        )
    return {"api_host": "127.0.0.1", "api_port": topology.PROXY_API_PORT, "proxies": links}


def _wanted(directory: Path, stack_file: Path) -> dict[Path, str]:
    files = config_files()
    wanted = {directory / name: text for name, text in files.items()}
    wanted[stack_file] = render_stack(files)
    return wanted


def write_scaled(scale: Scale, directory: Path) -> Path:
    """A stack of ``scale`` in ``directory`` (its configs in ``swarm/`` beside it, the
    rules read from this checkout); returns the stack file ``docker stack deploy`` takes."""
    files = config_files(scale)
    (directory / "swarm").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / "swarm" / name).write_text(text, encoding="utf-8")
    stack_file = directory / "stack.yaml"
    rules = str(ROOT / "dashboards" / "rules")
    stack_file.write_text(render_stack(files, scale, rules_dir=rules), encoding="utf-8")
    return stack_file


def write(directory: Path = SWARM_DIR, stack_file: Path = STACK_FILE) -> list[Path]:
    """Write every file that differs; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for path, text in _wanted(directory, stack_file).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def stale(directory: Path = SWARM_DIR, stack_file: Path = STACK_FILE) -> list[Path]:
    """Files missing or different from what ``write`` would write."""
    wanted = _wanted(directory, stack_file)
    return [p for p, t in wanted.items() if not p.exists() or p.read_text(encoding="utf-8") != t]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.swarm.stack", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        bad = stale()
        for path in bad:
            print(f"{path}: differs from chaos.compose.topology", file=sys.stderr)
        return 1 if bad else 0
    for path in write():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
