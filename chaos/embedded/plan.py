"""The embedded mesh's plan: every node on loopback, its ports, configs and DNS records.

Every edge a client uses goes through a named link of a fault proxy, so any edge can
be degraded by name::

    workload ──dns / dns-tcp──▶ dns          api-1 ──repl-1-2──▶ api-2
             ──ntp-a/b/c──────▶ ntp-a/b/c    api-2 ──repl-2-1──▶ api-1
             ──api-1 / api-2──▶ api-1 / api-2

The DNS records and every node's config carry the links' ports, not the nodes'. The
plan is pure data, so tests can inspect it and the supervisor, the CLI and the runner
all read the same addresses.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from chaos.embedded.ports import PortAllocator
from chaos.mesh.model import (
    API_NODES,
    API_SRV,
    DEFAULT_SCALE,
    LINKS,
    NTP_NODES,
    LinkPlan,
    LinkProtocol,
    MeshPlan,
    NodePlan,
    mesh_records,
)
from services.common.address import http_url, join

__all__ = ["DEFAULT_BASE_PORT", "TcpProxy", "build_plan"]

DEFAULT_BASE_PORT = 17000
"""The documented layout starts here; ``--base-port 0`` picks free ephemeral ports."""

TcpProxy = Literal["fallacies", "toxiproxy"]


def build_plan(
    *,
    host: str = "127.0.0.1",
    base_port: int = DEFAULT_BASE_PORT,
    tcp_proxy: TcpProxy = "fallacies",
    toxiproxy_binary: str = "toxiproxy-server",
    journey_interval_s: float = 0.3,
    ntp_interval_s: float = 1.0,
    seed: int | None = None,
    workload_overrides: dict[str, Any] | None = None,
) -> MeshPlan:
    ports = PortAllocator(base_port, host)
    control_port = ports.take()
    key_id, key_secret = "k1", secrets.token_hex(16)
    response_key_id, response_secret = "r1", secrets.token_hex(16)
    admin_token, bootstrap_token = secrets.token_hex(16), secrets.token_hex(16)

    def at(port: int) -> str:
        return join(host, port)

    def url(port: int) -> str:
        return http_url(host, port)

    nodes: list[NodePlan] = []
    links: list[LinkPlan] = []

    def link(name: str, upstream: int) -> int:
        port = ports.take()
        protocol: LinkProtocol = LINKS[name]
        carrier = "toxiproxy" if protocol == "tcp" and tcp_proxy == "toxiproxy" else "proxy"
        links.append(LinkPlan(name, protocol, at(port), at(upstream), carrier))
        return port

    dns_port, dns_admin = ports.take(), ports.take()
    nodes.append(
        NodePlan(
            name="dns",
            kind="dns",
            config={"host": host, "port": dns_port, "admin_host": host, "admin_port": dns_admin},
            health_url=f"{url(dns_admin)}/healthz",
            metrics_url=f"{url(dns_admin)}/metrics",
            listen={"udp+tcp": at(dns_port), "admin": at(dns_admin)},
            admin_url=url(dns_admin),
        )
    )
    ntp_links: dict[str, int] = {}
    for name in NTP_NODES:
        port, admin = ports.take(), ports.take()
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
                    # Every client of the mesh comes from 127.0.0.1: one bucket per socket.
                    "rate_limit_key": "address",
                },
                health_url=f"{url(admin)}/healthz",
                metrics_url=f"{url(admin)}/metrics",
                listen={"udp": at(port), "admin": at(admin)},
                admin_url=url(admin),
            )
        )
        ntp_links[name] = link(name, port)
    dns_udp_link = link("dns", dns_port)
    dns_tcp_link = link("dns-tcp", dns_port)

    api_ports = {name: ports.take() for name in API_NODES}
    api_links = {name: link(name, port) for name, port in api_ports.items()}
    repl_links = {(a, b): link(name, api_ports[b]) for name, a, b in DEFAULT_SCALE.replication}
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
                        peer: url(repl_links[(name, peer)]) for peer in API_NODES if peer != name
                    },
                    "keys": {key_id: key_secret},
                    "response_keys": {response_key_id: response_secret},
                    "admin_token": admin_token,
                    "bootstrap_token": bootstrap_token,
                },
                health_url=f"{url(port)}/healthz",
                metrics_url=f"{url(port)}/metrics",
                listen={"http": at(port), "admin": at(admin)},
                admin_url=url(admin),
            )
        )

    # A rogue replica for "the network is secure": it accepts the clients' requests but
    # signs its answers with a key of its own, so only a client that verifies notices.
    rogue_port, rogue_admin = ports.take(), ports.take()
    nodes.append(
        NodePlan(
            name="rogue",
            kind="api",
            config={
                "replica_id": "rogue",
                "host": host,
                "port": rogue_port,
                "admin_host": host,
                "admin_port": rogue_admin,
                "keys": {key_id: key_secret},
                "response_keys": {response_key_id: secrets.token_hex(16)},
                "admin_token": admin_token,
                "bootstrap_token": secrets.token_hex(16),
            },
            health_url=f"{url(rogue_port)}/healthz",
            metrics_url=f"{url(rogue_port)}/metrics",
            listen={"http": at(rogue_port), "admin": at(rogue_admin)},
            admin_url=url(rogue_admin),
        )
    )

    proxy_api = ports.take()
    proxied = [lk.to_populate() for lk in links if lk.proxy == "proxy"]
    nodes.append(
        NodePlan(
            name="proxy",
            kind="proxy",
            config={"api_host": host, "api_port": proxy_api, "proxies": proxied, "seed": seed},
            health_url=f"{url(proxy_api)}/version",
            metrics_url=f"{url(proxy_api)}/metrics",
            listen={"api": at(proxy_api)},
            admin_url=url(proxy_api),
        )
    )
    if tcp_proxy == "toxiproxy":
        toxiproxy_api = ports.take()
        nodes.append(
            NodePlan(
                name="toxiproxy",
                kind="toxiproxy",
                config={},
                health_url=f"{url(toxiproxy_api)}/version",
                metrics_url=f"{url(toxiproxy_api)}/metrics",
                listen={"api": at(toxiproxy_api)},
                admin_url=url(toxiproxy_api),
                command=(
                    toxiproxy_binary,
                    "-host",
                    host,
                    "-port",
                    str(toxiproxy_api),
                    "-proxy-metrics",
                ),
            )
        )

    workload_port = ports.take()
    workload_config: dict[str, Any] = {
        "dns": {"udp": at(dns_udp_link), "tcp": at(dns_tcp_link)},
        "ntp": {
            "servers": [{"name": name, "address": at(port)} for name, port in ntp_links.items()],
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
    }
    for section, values in (workload_overrides or {}).items():
        if isinstance(values, dict):
            workload_config.setdefault(section, {}).update(values)
        else:
            workload_config[section] = values
    nodes.append(
        NodePlan(
            name="workload",
            kind="workload",
            config=workload_config,
            health_url=f"{url(workload_port)}/healthz",
            metrics_url=f"{url(workload_port)}/metrics",
            listen={"http": at(workload_port)},
            admin_url=url(workload_port),
        )
    )
    records = tuple(mesh_records({name: at(port) for name, port in api_links.items()}))
    return MeshPlan(
        host=host,
        control_port=control_port,
        nodes=tuple(nodes),
        links=tuple(links),
        records=records,
        secrets={
            "admin_token": admin_token,
            "bootstrap_token": bootstrap_token,
            "key_id": key_id,
            "key_secret": key_secret,
        },
    )
