"""A real Prometheus for the embedded mesh: its config, its command line, its check.

Prometheus is one more node of the mesh when its binary is found (Debian's
``prometheus``): it scrapes every node's ``/metrics`` each second, one job per node
kind with a ``node`` label naming the node, and evaluates the recording and alert
rules of ``dashboards/rules`` each second — the same rules the compose mesh loads,
so the dashboards' queries work against either.

Nothing here opens a socket: the supervisor runs ``argv`` like any other node and
waits for ``health_url``::

    plan = with_prometheus(plan, run_dir)          # adds the node when the binary is found

or, step by step::

    prom = prometheus_node(plan.nodes, host=host, port=port, state_dir=run_dir)
    check_config(prom.config_path)                 # promtool check config
    # run prom.argv; wait for prom.health_url
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from chaos.embedded.ports import PortAllocator
from chaos.mesh.errors import MeshError
from chaos.mesh.model import MeshPlan, NodePlan
from chaos.mesh.state import NodeInfo
from services.common.address import http_url

__all__ = [
    "NODE_NAME",
    "PrometheusConfigError",
    "PrometheusNode",
    "ScrapeTarget",
    "check_config",
    "default_rules_dir",
    "find_prometheus",
    "find_promtool",
    "prometheus_node",
    "render_config",
    "scrape_targets",
    "with_prometheus",
]

NODE_NAME = "prometheus"
"""The node's name and kind in the plan, the state file and the ``up`` table."""
CONFIG_FILE = "prometheus.yml"
STORAGE_DIR = "prometheus-data"
SCRAPE_INTERVAL = "1s"
EVALUATION_INTERVAL = "1s"
RETENTION = "1d"
_DEBIAN_BINARIES = {"prometheus": "/usr/bin/prometheus", "promtool": "/usr/bin/promtool"}

NodesLike = Iterable[NodePlan] | Mapping[str, NodeInfo]
"""A plan's nodes, or a running mesh's ``MeshState.nodes``."""


class PrometheusConfigError(MeshError):
    """``promtool check config`` refused the file; the message quotes its output."""


@dataclass(frozen=True)
class ScrapeTarget:
    node: str
    kind: str
    address: str
    """``host:port``."""
    path: str
    """The metrics path, ``/metrics`` for every node of the mesh."""


@dataclass(frozen=True)
class PrometheusNode:
    """Everything the supervisor needs to run Prometheus as a node."""

    host: str
    port: int
    config_path: Path
    storage_dir: Path
    argv: tuple[str, ...]

    @property
    def url(self) -> str:
        return http_url(self.host, self.port)

    @property
    def health_url(self) -> str:
        """200 once the TSDB is open and the config loaded (``/-/healthy`` is earlier)."""
        return f"{self.url}/-/ready"

    @property
    def metrics_url(self) -> str:
        return f"{self.url}/metrics"

    def node_plan(self) -> NodePlan:
        """The node as the supervisor runs it: an outside ``command``, no JSON config."""
        return NodePlan(
            name=NODE_NAME,
            kind=NODE_NAME,
            config={},
            health_url=self.health_url,
            metrics_url=self.metrics_url,
            listen={"http": f"{self.host}:{self.port}"},
            admin_url=self.url,
            command=self.argv,
        )


def find_prometheus() -> str | None:
    """``prometheus`` on PATH, else Debian's ``/usr/bin/prometheus``, else None."""
    return _find("prometheus")


def find_promtool() -> str | None:
    return _find("promtool")


def _find(name: str) -> str | None:
    found = shutil.which(name)
    if found is not None:
        return found
    debian = Path(_DEBIAN_BINARIES[name])
    return str(debian) if debian.is_file() else None


def default_rules_dir() -> Path | None:
    """The repository's ``dashboards/rules``, found from this package; None when absent
    (an installed wheel does not carry it)."""
    rules = Path(__file__).resolve().parents[2] / "dashboards" / "rules"
    return rules if rules.is_dir() else None


def scrape_targets(nodes: NodesLike) -> list[ScrapeTarget]:
    """One target per node with a metrics URL, Prometheus itself left out."""
    if isinstance(nodes, Mapping):
        rows = [(name, info.kind, info.metrics_url) for name, info in nodes.items()]
    else:
        rows = [(node.name, node.kind, node.metrics_url) for node in nodes]
    targets: list[ScrapeTarget] = []
    for name, kind, metrics_url in rows:
        if not metrics_url or kind == NODE_NAME:
            continue
        url = urlsplit(str(metrics_url))
        if url.scheme != "http" or not url.netloc:
            raise ValueError(f"node {name}: metrics URL {metrics_url!r} is not http://host:port/…")
        targets.append(ScrapeTarget(name, kind, url.netloc, url.path or "/metrics"))
    return targets


def render_config(
    targets: Iterable[ScrapeTarget],
    *,
    rules_dir: Path | None,
    self_address: str | None = None,
    scrape_interval: str = SCRAPE_INTERVAL,
    evaluation_interval: str = EVALUATION_INTERVAL,
) -> dict[str, Any]:
    """The prometheus.yml as data: a job per node kind, ``node`` = the node's name.

    Jobs keep the order kinds first appear in; ``rules_dir``'s ``*.yaml`` become
    ``rule_files`` (absolute, so the file can live anywhere).
    """
    jobs: dict[str, list[ScrapeTarget]] = {}
    for target in targets:
        jobs.setdefault(target.kind, []).append(target)
    scrape_configs: list[dict[str, Any]] = []
    for kind, members in jobs.items():
        scrape_configs.append(
            {
                "job_name": kind,
                "static_configs": [{"targets": [t.address], "labels": _labels(t)} for t in members],
            }
        )
    if self_address is not None:
        scrape_configs.append(
            {
                "job_name": NODE_NAME,
                "static_configs": [{"targets": [self_address], "labels": {"node": NODE_NAME}}],
            }
        )
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
            "evaluation_interval": evaluation_interval,
        },
    }
    if rules_dir is not None:
        config["rule_files"] = [str(rules_dir.resolve() / "*.yaml")]
    config["scrape_configs"] = scrape_configs
    return config


def _labels(target: ScrapeTarget) -> dict[str, str]:
    labels = {"node": target.node}
    if target.path != "/metrics":
        labels["__metrics_path__"] = target.path
    return labels


def prometheus_node(
    nodes: NodesLike,
    *,
    host: str,
    port: int,
    state_dir: Path,
    rules_dir: Path | None = None,
    binary: str | None = None,
    fresh: bool = True,
) -> PrometheusNode:
    """Write ``state_dir/prometheus.yml`` and return how to run Prometheus on it.

    ``rules_dir`` defaults to the repository's ``dashboards/rules``. ``fresh`` empties
    ``state_dir/prometheus-data`` first: a new mesh starts a new history. The command
    line listens on ``host:port`` only; ``binary`` defaults to :func:`find_prometheus`.
    """
    exe = binary or find_prometheus()
    if exe is None:
        raise FileNotFoundError("no prometheus binary (Debian: apt-get install prometheus)")
    rules = rules_dir if rules_dir is not None else default_rules_dir()
    state_dir.mkdir(parents=True, exist_ok=True)
    config_path = state_dir / CONFIG_FILE
    storage_dir = state_dir / STORAGE_DIR
    if fresh and storage_dir.exists():
        shutil.rmtree(storage_dir)
    storage_dir.mkdir(parents=True, exist_ok=True)
    config = render_config(scrape_targets(nodes), rules_dir=rules, self_address=f"{host}:{port}")
    header = (
        "# Written by chaos.embedded.prometheus for the embedded mesh; rewritten on every up.\n"
    )
    config_path.write_text(header + yaml.safe_dump(config, sort_keys=False))
    argv = (
        exe,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={storage_dir}",
        f"--storage.tsdb.retention.time={RETENTION}",
        f"--web.listen-address={host}:{port}",
        "--log.level=warn",
    )
    return PrometheusNode(host, port, config_path, storage_dir, argv)


def check_config(config_path: Path, *, promtool: str | None = None, timeout_s: float = 30) -> str:
    """Run ``promtool check config`` (which checks the rule files too); return its output.

    Raises :class:`PrometheusConfigError` with promtool's words when it refuses, and
    ``FileNotFoundError`` when there is no promtool.
    """
    exe = promtool or find_promtool()
    if exe is None:
        raise FileNotFoundError("no promtool binary (Debian: apt-get install prometheus)")
    done = subprocess.run(
        [exe, "check", "config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise PrometheusConfigError(f"promtool check config {config_path} failed:\n{output}")
    return output


def with_prometheus(
    plan: MeshPlan,
    state_dir: Path,
    *,
    port: int | None = None,
    binary: str | None = None,
    rules_dir: Path | None = None,
) -> MeshPlan:
    """``plan`` plus a Prometheus node, or ``plan`` unchanged without a binary.

    The port, unless given, follows the plan's layout: the next port after a
    contiguous block (``--base-port 17000`` → the port after the last one), else a
    free ephemeral one (``--base-port 0``).
    """
    if any(node.name == NODE_NAME for node in plan.nodes):
        return plan
    exe = binary or find_prometheus()
    if exe is None:
        return plan
    chosen = port if port is not None else _next_port(plan)
    prom = prometheus_node(
        plan.nodes,
        host=plan.host,
        port=chosen,
        state_dir=state_dir,
        rules_dir=rules_dir,
        binary=exe,
    )
    return dataclasses.replace(plan, nodes=(*plan.nodes, prom.node_plan()))


def _next_port(plan: MeshPlan) -> int:
    taken = plan.ports()
    ports = sorted(taken)
    if ports and ports == list(range(ports[0], ports[-1] + 1)):
        return ports[-1] + 1
    allocator = PortAllocator(0, plan.host)
    while True:  # the plan's ports are free until its nodes start: skip them
        candidate = allocator.take()
        if candidate not in taken:
            return candidate
