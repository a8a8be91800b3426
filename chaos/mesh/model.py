"""What a mesh is made of, whichever backend runs it: names, links, plans, node status.

A leaf: it imports nothing of the project but the services' address helpers, so the
embedded and the compose backends, the faults, the runner and the CLI all read the
same names from one place::

    Scale          how many API replicas and workload pairs; the links follow
    LINKS          every edge a client uses, by name, with its protocol (default scale)
    NodePlan       a node: kind, config, where it listens, its health/metrics/admin URLs
    LinkPlan       a link: listen, upstream, the node that carries it
    MeshPlan       nodes + links + the DNS records the mesh registers (mesh_records)
    NodeStatus     what the control API says of a node: state, health, pid
    ControlledNode a node as the control API acts on it (a process or a container)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from services.common.address import http_url

__all__ = [
    "API_NODES",
    "API_SRV",
    "DEFAULT_SCALE",
    "HEALTH_TIMEOUT_S",
    "LINKS",
    "LINK_NAMES",
    "NODE_NAMES",
    "NTP_NODES",
    "RECORD_TTL_S",
    "WORKLOAD_NODES",
    "ZONE",
    "ControlledNode",
    "LinkPlan",
    "MAX_API_REPLICAS",
    "MAX_WORKLOAD_PAIRS",
    "LinkProtocol",
    "MeshPlan",
    "NodePlan",
    "NodeState",
    "NodeStatus",
    "Scale",
    "api_replicas",
    "mesh_records",
]

NTP_NODES = ("ntp-a", "ntp-b", "ntp-c")
ZONE = "mesh.test."
API_SRV = f"_api._tcp.{ZONE}"

LinkProtocol = Literal["tcp", "udp"]

MAX_API_REPLICAS = 9
"""A replication link's port is ``80<from><to>`` (``chaos.compose.topology``): one digit each."""
MAX_WORKLOAD_PAIRS = 8
_API_NAME = re.compile(r"api-([1-9][0-9]*)")
_WORKLOAD_NAME = re.compile(r"workload(?:-([2-9]|[1-9][0-9]+))?")


@dataclass(frozen=True)
class Scale:
    """How many API replicas and workload pairs (a naive and a resilient client each) a
    mesh runs: the embedded and compose meshes run the default, the Swarm stack any
    (``fallacies up --swarm --api-replicas N --workloads M``).

    Every replica replicates to every other over a link of its own, so links grow as
    N(N-1); the first workload keeps the name ``workload`` (its journeys are the
    report's waterfall), the others are ``workload-2`` ... and add their metrics to
    every signal, which sums over nodes.
    """

    api: int = 2
    workloads: int = 1

    def __post_init__(self) -> None:
        if not 2 <= self.api <= MAX_API_REPLICAS:
            raise ValueError(f"API replicas must be 2 to {MAX_API_REPLICAS}, not {self.api}")
        if not 1 <= self.workloads <= MAX_WORKLOAD_PAIRS:
            raise ValueError(
                f"workload pairs must be 1 to {MAX_WORKLOAD_PAIRS}, not {self.workloads}"
            )

    @property
    def api_nodes(self) -> tuple[str, ...]:
        return tuple(f"api-{i}" for i in range(1, self.api + 1))

    @property
    def workload_nodes(self) -> tuple[str, ...]:
        return ("workload", *(f"workload-{i}" for i in range(2, self.workloads + 1)))

    @property
    def replication(self) -> tuple[tuple[str, str, str], ...]:
        """(link, from, to) of every replication link: ``repl-1-2`` carries api-1's
        writes to api-2."""
        nodes = self.api_nodes
        return tuple(
            (f"repl-{a.removeprefix('api-')}-{b.removeprefix('api-')}", a, b)
            for a in nodes
            for b in nodes
            if a != b
        )

    @property
    def links(self) -> dict[str, LinkProtocol]:
        links: dict[str, LinkProtocol] = {"dns": "udp", "dns-tcp": "tcp"}
        links.update({name: "udp" for name in NTP_NODES})
        links.update({name: "tcp" for name in self.api_nodes})
        links.update({name: "tcp" for name, _, _ in self.replication})
        return links

    @property
    def node_names(self) -> tuple[str, ...]:
        return ("dns", *NTP_NODES, *self.api_nodes, "rogue", "proxy", *self.workload_nodes)


DEFAULT_SCALE = Scale()
API_NODES = DEFAULT_SCALE.api_nodes
WORKLOAD_NODES = DEFAULT_SCALE.workload_nodes

LINKS: Mapping[str, LinkProtocol] = DEFAULT_SCALE.links
"""Every link of the default mesh (embedded and compose alike) and its protocol: what
link faults may target. The API links are named after their replica; ``repl-1-2``
carries api-1's replication to api-2."""
LINK_NAMES: tuple[str, ...] = tuple(LINKS)
NODE_NAMES = DEFAULT_SCALE.node_names


def api_replicas(names: Iterable[str]) -> tuple[str, ...]:
    """The API replicas among node names, in order (``api-2`` before ``api-10``): what a
    fault that acts on every replica acts on, whatever the mesh's scale."""
    found = [(int(m.group(1)), n) for n in names if (m := _API_NAME.fullmatch(n))]
    return tuple(name for _, name in sorted(found))


def workloads(names: Iterable[str]) -> tuple[str, ...]:
    """The workload nodes among node names, in order (``workload``, ``workload-2``, …):
    whatever the mesh's scale, a client's numbers are the sum over all of them."""
    found = [(int(m.group(1) or 1), n) for n in names if (m := _WORKLOAD_NAME.fullmatch(n))]
    return tuple(name for _, name in sorted(found))


HEALTH_TIMEOUT_S = 1.0
"""How long one health probe of a node may take."""
RECORD_TTL_S = 5
"""The TTL of the records the mesh registers: short, so a moved service shows quickly."""
SRV_PRIORITY, SRV_WEIGHT = 10, 50

NodeState = Literal["starting", "running", "paused", "stopped", "exited"]


@dataclass(frozen=True)
class NodePlan:
    name: str
    kind: str
    config: dict[str, Any]
    health_url: str
    metrics_url: str | None
    listen: dict[str, str]
    """Where the node listens, by role, as shown in the ``up`` table."""
    admin_url: str | None = None
    command: tuple[str, ...] | None = None
    """An outside program to run instead of ``python -m chaos.node KIND`` (Toxiproxy)."""


@dataclass(frozen=True)
class LinkPlan:
    name: str
    protocol: LinkProtocol
    listen: str
    upstream: str
    proxy: str
    """The node that carries it: ``proxy`` (the project's) or ``toxiproxy``."""

    def to_populate(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": True,
        }
        if self.protocol == "udp":
            body["protocol"] = "udp"
        return body


@dataclass(frozen=True)
class MeshPlan:
    host: str
    control_port: int
    nodes: tuple[NodePlan, ...]
    links: tuple[LinkPlan, ...] = field(default=())
    records: tuple[dict[str, Any], ...] = field(default=())
    """RRsets registered in DNS once the ``dns`` node is healthy (``mesh_records``)."""
    secrets: dict[str, str] = field(default_factory=dict)
    """Admin and key material the runner needs (key rotation); never printed."""

    def node(self, name: str) -> NodePlan:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def link(self, name: str) -> LinkPlan:
        for link in self.links:
            if link.name == name:
                return link
        raise KeyError(name)

    def ports(self) -> dict[int, str]:
        """Every port the mesh will bind, with its owner, for the pre-flight check."""
        owned = {self.control_port: "mesh control API"}
        for node in self.nodes:
            for role, where in node.listen.items():
                owned[int(where.rsplit(":", 1)[1])] = f"{node.name} {role}"
        for link in self.links:
            owned[int(link.listen.rsplit(":", 1)[1])] = f"link {link.name}"
        return owned

    @property
    def control_url(self) -> str:
        return http_url(self.host, self.control_port)


def mesh_records(api_listens: Mapping[str, str]) -> list[dict[str, Any]]:
    """The records every mesh registers, from where its API links listen (name -> host:port).

    An A record per replica and the ``_api._tcp`` SRV record listing the api links,
    both on the links (not on the replicas: every edge goes through a link), and the
    large TXT answer's short TTL (no ``values``: only its TTL is set). The embedded
    supervisor registers them, the compose zone file starts with them, and the
    ``restore_dns`` rollback puts them back.
    """
    records: list[dict[str, Any]] = [
        {
            "name": f"{name}.{ZONE}",
            "type": "A",
            "ttl": RECORD_TTL_S,
            "values": [listen.rsplit(":", 1)[0]],
        }
        for name, listen in api_listens.items()
    ]
    records.append(
        {
            "name": API_SRV,
            "type": "SRV",
            "ttl": RECORD_TTL_S,
            "values": [
                {
                    "priority": SRV_PRIORITY,
                    "weight": SRV_WEIGHT,
                    "port": int(listen.rsplit(":", 1)[1]),
                    "target": f"{name}.{ZONE}",
                }
                for name, listen in api_listens.items()
            ],
        }
    )
    records.append({"name": f"big.{ZONE}", "type": "TXT", "ttl": RECORD_TTL_S})
    return records


class ControlledNode(Protocol):
    """One node as the control API acts on it: a process or a container."""

    @property
    def state(self) -> NodeState: ...
    @property
    def pid(self) -> int | None: ...
    @property
    def returncode(self) -> int | None: ...
    async def stop(self) -> None: ...
    async def kill(self) -> None: ...
    async def pause(self) -> None: ...
    async def resume(self) -> None: ...


@dataclass(frozen=True)
class NodeStatus:
    name: str
    kind: str
    state: NodeState
    healthy: bool
    pid: int | None
    returncode: int | None
    listen: dict[str, str]
    metrics_url: str | None

    @classmethod
    def of(cls, node: NodePlan, proc: ControlledNode, *, healthy: bool) -> NodeStatus:
        """What ``GET /nodes`` reports, whether a process or a container runs the node."""
        return cls(
            name=node.name,
            kind=node.kind,
            state=proc.state,
            healthy=healthy,
            pid=proc.pid,
            returncode=proc.returncode,
            listen=node.listen,
            metrics_url=node.metrics_url,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "healthy": self.healthy,
            "pid": self.pid,
            "returncode": self.returncode,
            "listen": self.listen,
            "metrics_url": self.metrics_url,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NodeStatus:
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            state=data["state"],
            healthy=bool(data["healthy"]),
            pid=data.get("pid"),
            returncode=data.get("returncode"),
            listen=dict(data.get("listen", {})),
            metrics_url=data.get("metrics_url"),
        )
