"""compose/kubernetes.yaml: rendered from the topology, every document valid against
Kubernetes' own schemas (strict: an unknown field fails), every node with its ports,
nothing privileged or exposed. (Debian's promtool, the one here, is built without the
Kubernetes service discovery, so Prometheus' config is not checked by it.)"""

from __future__ import annotations

import copy
import json
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from chaos.compose import render, topology
from chaos.kube import manifests
from chaos.swarm import stack

DOCS = list(yaml.safe_load_all(manifests.MANIFESTS_FILE.read_text(encoding="utf-8")))
NODES = [*render.APP_NODES, "toxiproxy"]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in DOCS if d["kind"] == kind}


def pod_specs() -> dict[str, dict[str, Any]]:
    return {name: d["spec"]["template"]["spec"] for name, d in of_kind("Deployment").items()}


def test_the_file_is_what_the_topology_renders() -> None:
    assert manifests.render_manifests() == manifests.MANIFESTS_FILE.read_text(encoding="utf-8"), (
        "compose/kubernetes.yaml is stale: run python -m chaos.kube.manifests"
    )
    assert manifests.main(["--check"]) == 0


def test_every_document_is_valid_against_the_kubernetes_schemas() -> None:
    version = latest_version()
    for doc in DOCS:
        kubernetes_validate.validate(doc, version, strict=True)
    broken = copy.deepcopy(of_kind("Deployment")["api-1"])
    broken["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFs"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def test_every_node_has_a_deployment_and_a_service_with_the_ports_it_listens_on() -> None:
    deployments, services = of_kind("Deployment"), of_kind("Service")
    assert set(deployments) == set(services) == {*NODES, "prometheus"}
    plan = topology.compose_plan(ips=topology.by_name())
    for name in NODES:
        ports = {(p["port"], p["protocol"]) for p in services[name]["spec"]["ports"]}
        for role, address in plan.node(name).listen.items():
            port = int(address.rpartition(":")[2])
            wanted = {"udp+tcp": ["UDP", "TCP"], "udp": ["UDP"]}.get(role, ["TCP"])
            assert {(port, proto) for proto in wanted} <= ports, (name, role)
        for link in plan.links:
            if link.proxy == name:
                assert (int(link.listen.rpartition(":")[2]), link.protocol.upper()) in ports
        selector = services[name]["spec"]["selector"]
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name


def test_nothing_is_privileged_exposed_or_given_a_token_in_the_file() -> None:
    text = manifests.MANIFESTS_FILE.read_text(encoding="utf-8")
    for word in ("hostPath", "hostNetwork", "hostPort", "privileged:", "NodePort"):
        assert word not in text, word
    for service in of_kind("Service").values():
        assert service["spec"]["type"] == "ClusterIP"
    for name, spec in pod_specs().items():
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            for env in container.get("env", []):
                if env["name"] == "FALLACIES_ADMIN_TOKEN":
                    assert env["valueFrom"]["secretKeyRef"]["name"] == "fallacies-admin"
                    assert "value" not in env
    assert not of_kind("Secret")


def test_the_node_configs_are_the_swarm_stacks_and_the_replicas_spread() -> None:
    (config,) = [d for d in DOCS if d["metadata"]["name"] == "fallacies-config"]
    swarm = {n: t for n, t in stack.config_files().items() if n.endswith(".json")}
    assert config["data"] == swarm
    assert all(json.loads(text) for text in config["data"].values())
    specs = pod_specs()
    for name in ("api-1", "api-2"):
        (spread,) = specs[name]["topologySpreadConstraints"]
        assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert "topologySpreadConstraints" not in specs["dns"]
