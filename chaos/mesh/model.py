"""What a mesh is made of, whichever backend runs it: names, links, plans, node status.

A leaf: it imports nothing of the project but the services' address helpers, so the
embedded and the compose backends, the faults, the runner and the CLI all read the
same names from one place::

    LINKS          every edge a client uses, by name, with its protocol (the one list)
    NodePlan       a node: kind, config, where it listens, its health/metrics/admin URLs
    LinkPlan       a link: listen, upstream, the node that carries it
    MeshPlan       nodes + links + the DNS records the mesh registers (mesh_records)
    NodeStatus     what the control API says of a node: state, health, pid
    ControlledNode a node as the control API acts on it (a process or a container)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from services.common.address import http_url

__all__ = [
    "API_NODES",
    "API_SRV",
    "HEALTH_TIMEOUT_S",
    "LINKS",
    "LINK_NAMES",
    "NODE_NAMES",
    "NTP_NODES",
    "RECORD_TTL_S",
    "ZONE",
    "ControlledNode",
    "LinkPlan",
    "LinkProtocol",
    "MeshPlan",
    "NodePlan",
    "NodeState",
    "NodeStatus",
    "mesh_records",
]

NTP_NODES = ("ntp-a", "ntp-b", "ntp-c")
API_NODES = ("api-1", "api-2")
ZONE = "mesh.test."
API_SRV = f"_api._tcp.{ZONE}"

LinkProtocol = Literal["tcp", "udp"]

LINKS: Mapping[str, LinkProtocol] = {
    "dns": "udp",
    "dns-tcp": "tcp",
    "ntp-a": "udp",
    "ntp-b": "udp",
    "ntp-c": "udp",
    "api-1": "tcp",
    "api-2": "tcp",
    "repl-1-2": "tcp",
    "repl-2-1": "tcp",
}
"""Every link of the mesh (embedded and compose alike) and its protocol: what link
faults may target. The API links are named after their replica; ``repl-1-2`` carries
api-1's replication to api-2."""
LINK_NAMES: tuple[str, ...] = tuple(LINKS)
NODE_NAMES = ("dns", *NTP_NODES, *API_NODES, "rogue", "proxy", "workload")

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
