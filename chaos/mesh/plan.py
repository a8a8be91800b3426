"""What the embedded mesh is made of: nodes, their ports and configs, and its DNS records.

The plan is pure data, so tests can inspect it and the supervisor, the fault proxy
and the runner all read the same addresses.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from chaos.mesh.ports import PortAllocator

DEFAULT_BASE_PORT = 17000
"""The documented layout starts here; ``--base-port 0`` picks free ephemeral ports."""

NTP_NODES = ("ntp-a", "ntp-b", "ntp-c")
API_NODES = ("api-1", "api-2")
ZONE = "mesh.test."
API_SRV = f"_api._tcp.{ZONE}"


@dataclass(frozen=True)
class NodePlan:
    name: str
    kind: str
    config: dict[str, Any]
    health_url: str
    metrics_url: str
    listen: dict[str, str]
    """Where the node listens, by role, as shown in the ``up`` table."""


@dataclass(frozen=True)
class MeshPlan:
    host: str
    control_port: int
    nodes: tuple[NodePlan, ...]
    records: tuple[dict[str, Any], ...] = field(default=())
    """RRsets the supervisor registers in DNS once the ``dns`` node is healthy."""

    def node(self, name: str) -> NodePlan:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def ports(self) -> dict[int, str]:
        """Every port the mesh will bind, with its owner, for the pre-flight check."""
        owned = {self.control_port: "mesh control API"}
        for node in self.nodes:
            for role, where in node.listen.items():
                port = int(where.rsplit(":", 1)[1])
                owned[port] = f"{node.name} {role}"
        return owned

    @property
    def control_url(self) -> str:
        return f"http://{self.host}:{self.control_port}"


def build_plan(
    *,
    host: str = "127.0.0.1",
    base_port: int = DEFAULT_BASE_PORT,
    journey_interval_s: float = 0.25,
    ntp_interval_s: float = 1.0,
) -> MeshPlan:
    ports = PortAllocator(base_port, host)
    control_port = ports.take()
    key_id, key_secret = "k1", secrets.token_hex(16)
    response_key_id, response_secret = "r1", secrets.token_hex(16)
    admin_token, bootstrap_token = secrets.token_hex(16), secrets.token_hex(16)

    def url(port: int) -> str:
        return f"http://{host}:{port}"

    nodes: list[NodePlan] = []
    dns_port, dns_admin = ports.take(), ports.take()
    nodes.append(
        NodePlan(
            name="dns",
            kind="dns",
            config={"host": host, "port": dns_port, "admin_host": host, "admin_port": dns_admin},
            health_url=f"{url(dns_admin)}/healthz",
            metrics_url=f"{url(dns_admin)}/metrics",
            listen={"udp+tcp": f"{host}:{dns_port}", "admin": f"{host}:{dns_admin}"},
        )
    )
    ntp_ports: dict[str, int] = {}
    for name in NTP_NODES:
        port, admin = ports.take(), ports.take()
        ntp_ports[name] = port
        nodes.append(
            NodePlan(
                name=name,
                kind="ntp",
                config={
                    "host": host,
                    "port": port,
                    "admin_host": host,
                    "admin_port": admin,
                    "name": name,
                },
                health_url=f"{url(admin)}/healthz",
                metrics_url=f"{url(admin)}/metrics",
                listen={"udp": f"{host}:{port}", "admin": f"{host}:{admin}"},
            )
        )
    api_ports = {name: ports.take() for name in API_NODES}
    for name, port in api_ports.items():
        admin = ports.take()
        nodes.append(
            NodePlan(
                name=name,
                kind="api",
                config={
                    "replica_id": name,
                    "host": host,
                    "port": port,
                    "admin_host": host,
                    "admin_port": admin,
                    "peers": {
                        peer: url(peer_port)
                        for peer, peer_port in api_ports.items()
                        if peer != name
                    },
                    "keys": {key_id: key_secret},
                    "response_keys": {response_key_id: response_secret},
                    "admin_token": admin_token,
                    "bootstrap_token": bootstrap_token,
                },
                health_url=f"{url(port)}/healthz",
                metrics_url=f"{url(port)}/metrics",
                listen={"http": f"{host}:{port}", "admin": f"{host}:{admin}"},
            )
        )
    workload_port = ports.take()
    nodes.append(
        NodePlan(
            name="workload",
            kind="workload",
            config={
                "dns": {"udp": f"{host}:{dns_port}", "tcp": f"{host}:{dns_port}"},
                "ntp": {
                    "servers": [
                        {"name": name, "address": f"{host}:{port}"}
                        for name, port in ntp_ports.items()
                    ],
                    "naive_server": NTP_NODES[0],
                    "interval_s": ntp_interval_s,
                },
                "api": {
                    "srv_name": API_SRV,
                    "replicas": list(API_NODES),
                    "key_id": key_id,
                    "secret": key_secret,
                    "response_keys": {response_key_id: response_secret},
                    "bootstrap_token": bootstrap_token,
                },
                "journey": {"interval_s": journey_interval_s},
                "metrics": {"host": host, "port": workload_port},
            },
            health_url=f"{url(workload_port)}/healthz",
            metrics_url=f"{url(workload_port)}/metrics",
            listen={"http": f"{host}:{workload_port}"},
        )
    )
    records: tuple[dict[str, Any], ...] = (
        *(
            {"name": f"{name}.{ZONE}", "type": "A", "ttl": 5, "values": [host]}
            for name in API_NODES
        ),
        {
            "name": API_SRV,
            "type": "SRV",
            "ttl": 5,
            "values": [
                {"priority": 10, "weight": 50, "port": port, "target": f"{name}.{ZONE}"}
                for name, port in api_ports.items()
            ],
        },
    )
    return MeshPlan(host=host, control_port=control_port, nodes=tuple(nodes), records=records)
