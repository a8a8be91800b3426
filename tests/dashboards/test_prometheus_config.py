"""``chaos.embedded.prometheus``: the embedded mesh's prometheus.yml, command line and check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.embedded.plan import build_plan
from chaos.embedded.prometheus import (
    NODE_NAME,
    PrometheusConfigError,
    check_config,
    default_rules_dir,
    prometheus_node,
    render_config,
    scrape_targets,
    with_prometheus,
)
from chaos.mesh.state import NodeInfo
from tests.conftest import require_tool
from tests.dashboards.promql import RULES_DIR

FAKE_BINARY = "/opt/prometheus/prometheus"


def _jobs(config: dict[str, Any]) -> dict[str, dict[str, str]]:
    """job → {node: address}."""
    jobs: dict[str, dict[str, str]] = {}
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            (address,) = static["targets"]
            jobs.setdefault(job["job_name"], {})[static["labels"]["node"]] = address
    return jobs


def test_a_job_per_kind_and_a_node_label_per_node() -> None:
    plan = build_plan()
    config = render_config(
        scrape_targets(plan.nodes), rules_dir=RULES_DIR, self_address="127.0.0.1:9"
    )
    jobs = _jobs(config)
    assert jobs == {
        "dns": {"dns": plan.node("dns").listen["admin"]},
        "ntp": {name: plan.node(name).listen["admin"] for name in ("ntp-a", "ntp-b", "ntp-c")},
        "api": {name: plan.node(name).listen["http"] for name in ("api-1", "api-2", "rogue")},
        "proxy": {"proxy": plan.node("proxy").listen["api"]},
        "workload": {"workload": plan.node("workload").listen["http"]},
        "prometheus": {"prometheus": "127.0.0.1:9"},
    }
    assert config["global"] == {
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "evaluation_interval": "1s",
    }
    assert config["rule_files"] == [str(RULES_DIR.resolve() / "*.yaml")]


def node(kind: str, metrics_url: str | None) -> NodeInfo:
    return NodeInfo(kind=kind, listen={}, health_url="", metrics_url=metrics_url)


def test_targets_from_a_running_mesh_state_are_the_same() -> None:
    plan = build_plan()
    state_nodes = {
        node.name: NodeInfo(kind=node.kind, listen={}, health_url="", metrics_url=node.metrics_url)
        for node in plan.nodes
    }
    assert scrape_targets(state_nodes) == scrape_targets(plan.nodes)


def test_odd_metrics_paths_and_nodes_without_metrics() -> None:
    nodes = {
        "a": node("x", "http://127.0.0.1:1/custom/metrics"),
        "b": node("x", None),
        NODE_NAME: node(NODE_NAME, "http://127.0.0.1:2/metrics"),
    }
    config = render_config(scrape_targets(nodes), rules_dir=None)
    assert "rule_files" not in config
    (job,) = config["scrape_configs"]
    (static,) = job["static_configs"]
    assert static["labels"] == {"node": "a", "__metrics_path__": "/custom/metrics"}
    with pytest.raises(ValueError, match="not http"):
        scrape_targets({"c": node("x", "127.0.0.1:3")})


def test_prometheus_node_writes_the_file_and_the_command_line(tmp_path: Path) -> None:
    stale = tmp_path / "prometheus-data" / "old-block"
    stale.mkdir(parents=True)
    prom = prometheus_node(
        build_plan().nodes, host="127.0.0.1", port=19090, state_dir=tmp_path, binary=FAKE_BINARY
    )
    assert prom.config_path == tmp_path / "prometheus.yml"
    assert not stale.exists(), "a new mesh starts a new history"
    assert prom.argv[0] == FAKE_BINARY
    assert f"--config.file={tmp_path / 'prometheus.yml'}" in prom.argv
    assert f"--storage.tsdb.path={tmp_path / 'prometheus-data'}" in prom.argv
    assert "--web.listen-address=127.0.0.1:19090" in prom.argv
    assert prom.health_url == "http://127.0.0.1:19090/-/ready"
    written = yaml.safe_load(prom.config_path.read_text())
    assert written["rule_files"] == [str(default_rules_dir() / "*.yaml")]  # type: ignore[operator]
    assert _jobs(written)["prometheus"] == {"prometheus": "127.0.0.1:19090"}
    node = prom.node_plan()
    assert (node.name, node.kind, node.command) == (NODE_NAME, NODE_NAME, prom.argv)
    assert node.listen == {"http": "127.0.0.1:19090"}


def test_with_prometheus_adds_one_node_on_the_next_port(tmp_path: Path) -> None:
    plan = build_plan(base_port=17000)
    last = max(plan.ports())
    with_prom = with_prometheus(plan, tmp_path, binary=FAKE_BINARY)
    node = with_prom.node(NODE_NAME)
    assert node.listen["http"] == f"127.0.0.1:{last + 1}"
    assert with_prom.ports()[last + 1] == "prometheus http"
    assert with_prometheus(with_prom, tmp_path, binary=FAKE_BINARY) is with_prom
    assert (tmp_path / "prometheus.yml").is_file()


def test_with_prometheus_on_ephemeral_ports_avoids_the_plans(tmp_path: Path) -> None:
    plan = build_plan(base_port=0)
    with_prom = with_prometheus(plan, tmp_path, binary=FAKE_BINARY)
    port = int(with_prom.node(NODE_NAME).listen["http"].rsplit(":", 1)[1])
    assert port not in plan.ports()


def test_without_a_binary_the_plan_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chaos.embedded.prometheus as module

    monkeypatch.setattr(module, "find_prometheus", lambda: None)
    plan = build_plan()
    assert with_prometheus(plan, tmp_path) is plan
    assert not (tmp_path / "prometheus.yml").exists()


@pytest.mark.tool("promtool")
def test_promtool_accepts_the_embedded_config(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    prom = prometheus_node(
        build_plan(base_port=0).nodes,
        host="127.0.0.1",
        port=19090,
        state_dir=tmp_path,
        binary=FAKE_BINARY,
    )
    output = check_config(prom.config_path, promtool=promtool)
    assert "SUCCESS" in output
    assert "3 rule files found" in output


@pytest.mark.tool("promtool")
def test_check_config_quotes_promtool_when_it_refuses(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    bad = tmp_path / "prometheus.yml"
    bad.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 5s\n")
    with pytest.raises(PrometheusConfigError, match="scrape timeout greater than scrape interval"):
        check_config(bad, promtool=promtool)
