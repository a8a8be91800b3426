"""The mesh as Kubernetes manifests, from the same topology: ``compose/kubernetes.yaml``.

    python -m chaos.kube.manifests          write the file
    python -m chaos.kube.manifests --check  exit 1 if it differs from the topology

No cluster can be built where this project is developed, so the manifests are checked
against Kubernetes' own OpenAPI schemas (the kubernetes-validate package ships them)
and against the topology, never applied. What maps onto what (docs/kubernetes.md):

    each node          a Deployment of one pod and a ClusterIP Service with the ports
                       it listens on (the carriers: one per link); Service names are
                       the nodes' names, so the Swarm stack's configs work unchanged
                       ({{ip:NAME}} resolves to the Service's stable address)
    configs            one ConfigMap of the Swarm stack's node configs, one of the rules
    toxiproxy          one pod, two containers: Toxiproxy on the pod's loopback and its
                       token gate beside it, the compose layout (pods share a namespace)
    the replicas       spread over the cluster's nodes (topologySpreadConstraints)
    Prometheus         kubernetes_sd_configs over the namespace's pods, with a Role
                       that may only list them; the same node and job labels
    the admin token    a Secret you create (`kubectl -n fallacies create secret generic
                       fallacies-admin --from-literal=token=...`): none is shipped
    control            none yet: node faults need one (Kubernetes has no pause); link,
                       DNS, clock and key faults go to the admin APIs as everywhere

Nothing is exposed outside the cluster: no NodePort, no LoadBalancer, no host path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from chaos.compose import render, topology
from chaos.swarm import stack

__all__ = ["MANIFESTS_FILE", "NAMESPACE", "documents", "render_manifests"]

MANIFESTS_FILE = stack.ROOT / "compose" / "kubernetes.yaml"
NAMESPACE = "fallacies"
TOKEN_SECRET = "fallacies-admin"
IMAGES = {
    "app": "fallacies/mesh:offline",
    "toxiproxy": "fallacies/toxiproxy:2.12.0",
    # Debian's prometheus (the offline image) is built without kubernetes_sd_configs.
    "prometheus": "prom/prometheus:v2.53.0",
}
PART_OF = {"app.kubernetes.io/part-of": "fallacies"}

_HEADER = """\
# The fallacies mesh as Kubernetes manifests (written by `python -m chaos.kube.manifests`
# from chaos/compose/topology.py; do not edit, a test keeps the two equal and checks every
# document against Kubernetes' schemas). Never applied by this project's tests: no
# cluster can be built where it is developed (docs/kubernetes.md).
#
#   kubectl create namespace fallacies
#   kubectl -n fallacies create secret generic fallacies-admin \\
#       --from-literal=token="$(openssl rand -hex 16)"
#   kubectl apply -f compose/kubernetes.yaml
"""


def _meta(name: str, **labels: str) -> dict[str, Any]:
    return {"name": name, "namespace": NAMESPACE, "labels": {**PART_OF, **labels}}


def _port_name(text: str) -> str:
    """A Service port name: at most 15 characters of [a-z0-9-]."""
    return text.replace("+", "-").replace(".", "-")[:15]


def _listen_ports(name: str) -> list[tuple[str, int, str]]:
    """(port name, port, protocol) of everything the node listens on, links included."""
    plan = topology.compose_plan(ips=topology.by_name())
    ports: list[tuple[str, int, str]] = []
    for role, address in plan.node(name).listen.items():
        port = int(address.rpartition(":")[2])
        if role == "udp+tcp":
            ports += [(f"{name}-udp", port, "UDP"), (f"{name}-tcp", port, "TCP")]
        else:
            ports.append((role, port, "UDP" if role == "udp" else "TCP"))
    for link in plan.links:
        if link.proxy == name:
            port = int(link.listen.rpartition(":")[2])
            ports.append((f"link-{link.name}", port, link.protocol.upper()))
    return [(_port_name(n), p, proto) for n, p, proto in ports]


def _security() -> dict[str, Any]:
    return {
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }


def _probe(port: int, path: str, *, delay_s: int = 0) -> dict[str, Any]:
    """As the compose mesh checks: every 2 s, three misses."""
    return {
        "httpGet": {"path": path, "port": port},
        "initialDelaySeconds": delay_s,
        "periodSeconds": 2,
        "timeoutSeconds": 2,
        "failureThreshold": 3,
    }


def _token_env() -> dict[str, Any]:
    return {
        "name": "FALLACIES_ADMIN_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": TOKEN_SECRET, "key": "token"}},
    }


def _container(name: str, image: str, command: list[str], port: int, path: str) -> dict[str, Any]:
    env: list[dict[str, Any]] = [
        {"name": "HEALTH_PORT", "value": str(port)},
        {"name": "HEALTH_PATH", "value": path},
    ]
    if name != "workload":  # the workload has no admin API: its config refuses a token
        env.append(_token_env())
    return {
        "name": name,
        "image": image,
        "command": command,
        "env": env,
        "readinessProbe": _probe(port, path),
        "livenessProbe": _probe(port, path, delay_s=30),
        "securityContext": _security(),
        "volumeMounts": [
            {"name": "config", "mountPath": f"/config/{name}.json", "subPath": f"{name}.json"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def _deployment(name: str, kind: str, containers: list[dict[str, Any]]) -> dict[str, Any]:
    port, path = stack.health(kind)
    role = "server" if stack.is_server(name) else "fabric"
    labels = {"org.fallacies.node": name, "org.fallacies.job": stack.job(name, kind)}
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            # A safe sysctl since Kubernetes 1.22; the stack's tcp_syn_retries for Toxiproxy
            # is not, and would need the kubelet's --allowed-unsafe-sysctls.
            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]
        },
        "containers": containers,
        "volumes": [
            {"name": "config", "configMap": {"name": "fallacies-config"}},
            {"name": "tmp", "emptyDir": {"medium": "Memory"}},
        ],
    }
    if role == "server":
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"org.fallacies.role": "server"}},
            }
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, **{"org.fallacies.node": name}),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"org.fallacies.node": name}},
            "template": {
                "metadata": {
                    "labels": {**PART_OF, **labels, "org.fallacies.role": role},
                    "annotations": {
                        "org.fallacies.metrics-port": str(port),
                        "org.fallacies.metrics-path": "/metrics",
                    },
                },
                "spec": spec,
            },
        },
    }


def _service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, **{"org.fallacies.node": name}),
        "spec": {
            "type": "ClusterIP",
            "selector": {"org.fallacies.node": name},
            "ports": [
                {"name": n, "port": p, "targetPort": p, "protocol": proto}
                for n, p, proto in _listen_ports(name)
            ],
        },
    }


def _prometheus_config() -> str:
    keep = "__meta_kubernetes_pod_annotation_org_fallacies_metrics_port"
    config = {
        "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
        "rule_files": ["/etc/prometheus/rules/*.yaml"],
        "scrape_configs": [
            {
                "job_name": "fallacies",
                "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [NAMESPACE]}}],
                "relabel_configs": [
                    {"source_labels": [keep], "regex": ".+", "action": "keep"},
                    {
                        "source_labels": ["__meta_kubernetes_pod_ip", keep],
                        "separator": ":",
                        "target_label": "__address__",
                    },
                    {
                        "source_labels": [
                            "__meta_kubernetes_pod_annotation_org_fallacies_metrics_path"
                        ],
                        "target_label": "__metrics_path__",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_pod_label_org_fallacies_node"],
                        "target_label": "node",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_pod_label_org_fallacies_job"],
                        "target_label": "job",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_pod_node_name"],
                        "target_label": "engine",
                    },
                ],
            }
        ],
    }
    return yaml.safe_dump(config, sort_keys=False, width=100)


def _prometheus() -> list[dict[str, Any]]:
    account = _meta("prometheus")
    rules = [
        {"name": "rules", "mountPath": f"/etc/prometheus/rules/{n}", "subPath": n}
        for n in stack.rule_files()
    ]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": account},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta("prometheus-pods"),
            "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta("prometheus-pods"),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "prometheus-pods",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "prometheus", "namespace": NAMESPACE}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("prometheus-config"),
            "data": {"prometheus.yml": _prometheus_config()},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta("prometheus"),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"org.fallacies.node": "prometheus"}},
                "template": {
                    "metadata": {"labels": {**PART_OF, "org.fallacies.node": "prometheus"}},
                    "spec": {
                        "serviceAccountName": "prometheus",
                        "containers": [
                            {
                                "name": "prometheus",
                                "image": IMAGES["prometheus"],
                                "args": [
                                    "--config.file=/etc/prometheus/prometheus.yml",
                                    "--storage.tsdb.path=/prometheus",
                                    "--storage.tsdb.retention.time=2d",
                                ],
                                "readinessProbe": _probe(9090, "/-/ready"),
                                "securityContext": _security(),
                                "volumeMounts": [
                                    {
                                        "name": "config",
                                        "mountPath": "/etc/prometheus/prometheus.yml",
                                        "subPath": "prometheus.yml",
                                    },
                                    *rules,
                                    {"name": "data", "mountPath": "/prometheus"},
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "config", "configMap": {"name": "prometheus-config"}},
                            {"name": "rules", "configMap": {"name": "fallacies-rules"}},
                            {"name": "data", "emptyDir": {}},
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta("prometheus"),
            "spec": {
                "type": "ClusterIP",
                "selector": {"org.fallacies.node": "prometheus"},
                "ports": [{"name": "http", "port": 9090, "targetPort": 9090, "protocol": "TCP"}],
            },
        },
    ]


def documents() -> list[dict[str, Any]]:
    """Every object, in the order ``kubectl apply`` should meet them."""
    files = stack.config_files()
    configs = {name: text for name, text in files.items() if name.endswith(".json")}
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": NAMESPACE, "labels": PART_OF},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("fallacies-config"),
            "data": configs,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("fallacies-rules"),
            "data": {n: p.read_text(encoding="utf-8") for n, p in stack.rule_files().items()},
        },
    ]
    plan = topology.compose_plan()
    for name in render.APP_NODES:
        kind = plan.node(name).kind
        port, path = stack.health(kind)
        command = [
            "python",
            "-m",
            "chaos.node",
            kind,
            "--config",
            f"/config/{name}.json",
        ]
        docs += [
            _deployment(name, kind, [_container(name, IMAGES["app"], command, port, path)]),
            _service(name),
        ]
    port, path = stack.health("toxiproxy")
    server = _container(
        "toxiproxy",
        IMAGES["toxiproxy"],
        ["/toxiproxy", "-host=127.0.0.1", "-port=8474", "-config=/config/toxiproxy.json",
         "-proxy-metrics", "-runtime-metrics"],
        port,
        path,
    )  # fmt: skip
    server.pop("env")
    server.pop("readinessProbe")
    server.pop("livenessProbe")
    gate = _container(
        "gate",
        IMAGES["app"],
        ["python", "-m", "chaos.compose.toxiproxy_gate", "--host=0.0.0.0", f"--port={port}",
         "--upstream=http://127.0.0.1:8474"],
        port,
        path,
    )  # fmt: skip
    gate["volumeMounts"] = [{"name": "tmp", "mountPath": "/tmp"}]
    docs += [
        _deployment("toxiproxy", "toxiproxy", [server, gate]),
        _service("toxiproxy"),
        *_prometheus(),
    ]
    return docs


def render_manifests() -> str:
    return _HEADER + yaml.safe_dump_all(documents(), sort_keys=False, width=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.kube.manifests", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    wanted = render_manifests()
    path: Path = MANIFESTS_FILE
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != wanted:
            print(f"{path} is stale: run python -m chaos.kube.manifests", file=sys.stderr)
            return 1
        return 0
    path.write_text(wanted, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
