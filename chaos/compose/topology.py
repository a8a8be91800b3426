"""The compose mesh as data: every container's address, ports, config and the links between.

The same nodes and links as the embedded mesh (``chaos.mesh.model``), laid out on a
project network with static addresses, so DNS records and configs can name them::

    172.30.0.0/24                       links                      upstreams
    workload .40 ──dns :53/udp─────────▶ proxy .30 ──────────────▶ dns .10 :53
                 ──ntp-a/b/c :1231-1233▶           ──────────────▶ ntp-a/b/c .11-.13 :123
                 ──dns-tcp :53─────────▶ toxiproxy .31 ──────────▶ dns .10 :53
                 ──api-1/2 :8001/8002──▶               ──────────▶ api-1/2 .21/.22 :8000
    api-1 ──repl-1-2 :8012─────────────▶               ──────────▶ api-2 :8000
    api-2 ──repl-2-1 :8021─────────────▶               ──────────▶ api-1 :8000
    rogue .23 (the forged replica), prometheus .50, grafana .51; control on the host

Two points of view share one description. Inside the network a node is
``172.30.0.x:<container port>``: that is where links point and what ``listen`` says.
From the host every admin, metrics and health URL is a port published on
127.0.0.1 only (``PUBLISHED``), which is what the runner and the control service use.

``compose/config/`` holds these configs as files (``python -m chaos.compose.render``
writes them; a test keeps files and this module equal), ``compose/compose.yaml``
the containers (a test checks its addresses and ports against this module).
"""

from __future__ import annotations

from typing import Any

from chaos.mesh.model import (
    API_SRV,
    DEFAULT_SCALE,
    MAX_API_REPLICAS,
    MAX_WORKLOAD_PAIRS,
    NTP_NODES,
    LinkPlan,
    LinkProtocol,
    MeshPlan,
    NodePlan,
    Scale,
    mesh_records,
)

__all__ = [
    "CONTROL_PORT",
    "HOST",
    "IPS",
    "PROJECT",
    "PUBLISHED",
    "SECRETS",
    "by_name",
    "SUBNET",
    "compose_plan",
    "link_port",
    "published",
]

PROJECT = "fallacies"
"""The compose project's ``name:``; containers are found by its label."""
SUBNET = "172.30.0.0/24"
HOST = "127.0.0.1"
"""Where the host reaches published ports: loopback only, never beyond."""

IPS: dict[str, str] = {
    "dns": "172.30.0.10",
    "ntp-a": "172.30.0.11",
    "ntp-b": "172.30.0.12",
    "ntp-c": "172.30.0.13",
    "api-1": "172.30.0.21",
    "api-2": "172.30.0.22",
    "rogue": "172.30.0.23",
    "proxy": "172.30.0.30",
    "toxiproxy": "172.30.0.31",
    "workload": "172.30.0.40",
    "prometheus": "172.30.0.50",
    "grafana": "172.30.0.51",
}

DNS_PORT, NTP_PORT, HTTP_PORT, ADMIN_PORT, PROXY_API_PORT, WORKLOAD_PORT = (
    53,
    123,
    8000,
    8080,
    8474,
    9100,
)
PROMETHEUS_PORT, GRAFANA_PORT = 9090, 3000
TOXIPROXY_GATE_PORT = 8475
"""Toxiproxy's API listens on 127.0.0.1 in its container; the token gate
(``chaos.compose.toxiproxy_gate``) on this port of the same namespace is the way in."""

CONTROL_PORT = 18400
"""The control service binds 127.0.0.1:18400 on the host (``network_mode: host``)."""

PUBLISHED: dict[tuple[str, str], int] = {
    ("dns", "admin"): 18401,
    ("ntp-a", "admin"): 18402,
    ("ntp-b", "admin"): 18403,
    ("ntp-c", "admin"): 18404,
    ("api-1", "http"): 18405,
    ("api-1", "admin"): 18406,
    ("api-2", "http"): 18407,
    ("api-2", "admin"): 18408,
    ("rogue", "http"): 18409,
    ("rogue", "admin"): 18410,
    ("proxy", "api"): 18411,
    ("toxiproxy", "api"): 18412,
    ("workload", "http"): 18413,
    ("prometheus", "http"): 18414,
    ("grafana", "http"): 18415,
}
"""(node, role) → host port, each published as ``127.0.0.1:PORT:<container port>``."""
EXTRA_API_PORT, EXTRA_WORKLOAD_PORT = 18416, 18430
"""A Swarm stack of more replicas or workloads (``Scale``) publishes api-3 … on 18416 on
(http, admin in turn) and workload-2 … on 18430 on: each node's port is its own, whatever
the scale, so a URL never changes meaning between two stacks."""


def published_port(node: str, role: str) -> int:
    if (node, role) in PUBLISHED:
        return PUBLISHED[(node, role)]
    kind, _, number = node.rpartition("-")
    if kind == "api" and role in ("http", "admin") and number.isdigit():
        return EXTRA_API_PORT + 2 * (int(number) - 3) + (role == "admin")
    if kind == "workload" and role == "http" and number.isdigit():
        return EXTRA_WORKLOAD_PORT + int(number) - 2
    raise KeyError((node, role))


def published(scale: Scale = DEFAULT_SCALE) -> dict[tuple[str, str], int]:
    """(node, role) → host port for a mesh of ``scale``: ``PUBLISHED`` and the extra nodes'."""
    ports = dict(PUBLISHED)
    for node in scale.api_nodes:
        ports.update({(node, role): published_port(node, role) for role in ("http", "admin")})
    for node in scale.workload_nodes:
        ports[(node, "http")] = published_port(node, "http")
    return ports


_LARGEST = published(Scale(MAX_API_REPLICAS, MAX_WORKLOAD_PAIRS)).values()
PUBLISHED_RANGE = (min(_LARGEST), max(_LARGEST))
"""Every port any scale publishes (what a lab engine forwards from the host)."""


def link_ports(scale: Scale = DEFAULT_SCALE) -> dict[str, tuple[str, int, str, int]]:
    """link: (carrier, port on the carrier, upstream node, upstream port). api-N's link
    is on port 800N, repl-A-B's on 80AB. UDP links ride the project's proxy, TCP links
    real Toxiproxy: the compose split (``_links`` checks each carrier against the
    link's protocol in ``Scale.links``)."""
    ports = {
        "dns": ("proxy", DNS_PORT, "dns", DNS_PORT),
        "ntp-a": ("proxy", 1231, "ntp-a", NTP_PORT),
        "ntp-b": ("proxy", 1232, "ntp-b", NTP_PORT),
        "ntp-c": ("proxy", 1233, "ntp-c", NTP_PORT),
        "dns-tcp": ("toxiproxy", DNS_PORT, "dns", DNS_PORT),
    }
    for node in scale.api_nodes:
        ports[node] = ("toxiproxy", 8000 + int(node.removeprefix("api-")), node, HTTP_PORT)
    for name, _, to in scale.replication:
        ports[name] = (
            "toxiproxy",
            8000 + int(name.removeprefix("repl-").replace("-", "")),
            to,
            HTTP_PORT,
        )
    return ports


CARRIERS: dict[LinkProtocol, str] = {"udp": "proxy", "tcp": "toxiproxy"}

PROXY_SEED = 11
JOURNEY_INTERVAL_S = 0.3
NTP_INTERVAL_S = 1.0

SECRETS: dict[str, str] = {
    "bootstrap_token": "compose-playground-bootstrap-token",
    "key_id": "k1",
    "key_secret": "compose-playground-request-secret",
}
"""Static playground secrets, public in this repository on purpose (compose/config/README.md):
the signing keys of a local demo. The admin token is not among them: every node reads it
from ``$FALLACIES_ADMIN_TOKEN``, which ``fallacies up --compose`` draws afresh."""
RESPONSE_KEY_ID, RESPONSE_SECRET = "r1", "compose-playground-response-secret"
ROGUE_RESPONSE_SECRET = "compose-rogue-own-response-secret"
ROGUE_BOOTSTRAP_TOKEN = "compose-rogue-bootstrap-token"


def by_name(scale: Scale = DEFAULT_SCALE) -> dict[str, str]:
    """Every container or service of a mesh of ``scale``, addressed by its own name (what
    a Swarm stack, which has no static addresses, dials)."""
    return {name: name for name in (*scale.node_names, "toxiproxy", "prometheus", "grafana")}


def at(node: str, port: int, ips: dict[str, str] | None = None) -> str:
    return f"{(ips or IPS)[node]}:{port}"


def published_url(node: str, role: str) -> str:
    return f"http://{HOST}:{published_port(node, role)}"


def link_port(name: str, scale: Scale = DEFAULT_SCALE) -> int:
    return link_ports(scale)[name][1]


def _links(ips: dict[str, str] | None = None, scale: Scale = DEFAULT_SCALE) -> tuple[LinkPlan, ...]:
    links = []
    protocols = scale.links
    for name, (carrier, port, upstream, upstream_port) in link_ports(scale).items():
        protocol = protocols[name]
        if CARRIERS[protocol] != carrier:
            raise ValueError(f"{name} is {protocol}: it rides {CARRIERS[protocol]}, not {carrier}")
        listen, target = at(carrier, port, ips), at(upstream, upstream_port, ips)
        links.append(LinkPlan(name, protocol, listen, target, carrier))
    return tuple(links)


def link_config(link: LinkPlan) -> dict[str, Any]:
    """A link as its carrier creates it at start: listening on every address of the container."""
    body = link.to_populate()
    body["listen"] = f"0.0.0.0:{link.listen.rsplit(':', 1)[1]}"
    return body


def _api(name: str, links: dict[str, LinkPlan], ips: dict[str, str], scale: Scale) -> NodePlan:
    peers = {
        to: f"http://{links[link].listen}" for link, src, to in scale.replication if src == name
    }
    config: dict[str, Any] = {
        "replica_id": name,
        "host": "0.0.0.0",
        "port": HTTP_PORT,
        "admin_host": "0.0.0.0",
        "admin_port": ADMIN_PORT,
        **({"peers": peers} if peers else {}),
        "keys": {SECRETS["key_id"]: SECRETS["key_secret"]},
        "response_keys": {RESPONSE_KEY_ID: RESPONSE_SECRET},
        "admin_token": None,
        "bootstrap_token": SECRETS["bootstrap_token"],
    }
    if name == "rogue":
        # It accepts the clients' requests but signs with a key of its own.
        config["response_keys"] = {RESPONSE_KEY_ID: ROGUE_RESPONSE_SECRET}
        config["bootstrap_token"] = ROGUE_BOOTSTRAP_TOKEN
    http = published_url(name, "http")
    return NodePlan(
        name=name,
        kind="api",
        config=config,
        health_url=f"{http}/healthz",
        metrics_url=f"{http}/metrics",
        listen={"http": at(name, HTTP_PORT, ips), "admin": at(name, ADMIN_PORT, ips)},
        admin_url=published_url(name, "admin"),
    )


def _admin_node(name: str, kind: str, config: dict[str, Any], listen: dict[str, str]) -> NodePlan:
    admin = published_url(name, "admin")
    return NodePlan(
        name=name,
        kind=kind,
        config=config,
        health_url=f"{admin}/healthz",
        metrics_url=f"{admin}/metrics",
        listen=listen,
        admin_url=admin,
    )


def compose_plan(
    admin_token: str | None = None,
    ips: dict[str, str] | None = None,
    scale: Scale = DEFAULT_SCALE,
) -> MeshPlan:
    """The compose mesh in the embedded mesh's terms, seen from the host; ``admin_token``
    is the ``$FALLACIES_ADMIN_TOKEN`` it was started with, which its admin APIs want.

    ``ips`` (default ``IPS``) is where each node is inside the network: the Swarm stack,
    which has no static addresses, passes its services' virtual IPs, or placeholders
    its nodes resolve at start (``chaos.node.names``); it alone runs another ``scale``."""
    if ips is None and scale != DEFAULT_SCALE:
        raise ValueError("the compose mesh has static addresses for the default scale only")
    ips = ips or IPS
    links = _links(ips, scale)
    by_name = {link.name: link for link in links}
    nodes: list[NodePlan] = [
        _admin_node(
            "dns",
            "dns",
            {
                "host": "0.0.0.0",
                "port": DNS_PORT,
                "admin_host": "0.0.0.0",
                "admin_port": ADMIN_PORT,
                "zone": "/config/zone.yaml",
            },
            {"udp+tcp": at("dns", DNS_PORT, ips), "admin": at("dns", ADMIN_PORT, ips)},
        )
    ]
    for name in NTP_NODES:
        nodes.append(
            _admin_node(
                name,
                "ntp",
                {
                    "host": "0.0.0.0",
                    "port": NTP_PORT,
                    "admin_host": "0.0.0.0",
                    "admin_port": ADMIN_PORT,
                    "name": name,
                    # Every client arrives from the proxy's address: one bucket per socket.
                    "rate_limit_key": "address",
                },
                {"udp": at(name, NTP_PORT, ips), "admin": at(name, ADMIN_PORT, ips)},
            )
        )
    nodes += [_api(name, by_name, ips, scale) for name in (*scale.api_nodes, "rogue")]
    for carrier in ("proxy", "toxiproxy"):
        api = published_url(carrier, "api")
        config: dict[str, Any] = {}
        if carrier == "proxy":
            config = {
                "api_host": "0.0.0.0",
                "api_port": PROXY_API_PORT,
                "proxies": [link_config(lk) for lk in links if lk.proxy == "proxy"],
                "seed": PROXY_SEED,
            }
        nodes.append(
            NodePlan(
                name=carrier,
                kind=carrier,
                config=config,
                health_url=f"{api}/version",
                metrics_url=f"{api}/metrics",
                listen={
                    "api": at(
                        carrier,
                        TOXIPROXY_GATE_PORT if carrier == "toxiproxy" else PROXY_API_PORT,
                        ips,
                    )
                },
                admin_url=api,
            )
        )
    for workload in scale.workload_nodes:
        url = published_url(workload, "http")
        nodes.append(
            NodePlan(
                name=workload,
                kind="workload",
                config={
                    "dns": {"udp": by_name["dns"].listen, "tcp": by_name["dns-tcp"].listen},
                    "ntp": {
                        "servers": [
                            {"name": name, "address": by_name[name].listen} for name in NTP_NODES
                        ],
                        "naive_server": NTP_NODES[0],
                        "interval_s": NTP_INTERVAL_S,
                    },
                    "api": {
                        "srv_name": API_SRV,
                        "replicas": list(scale.api_nodes),
                        "key_id": SECRETS["key_id"],
                        "secret": SECRETS["key_secret"],
                        "response_keys": {RESPONSE_KEY_ID: RESPONSE_SECRET},
                        "bootstrap_token": SECRETS["bootstrap_token"],
                    },
                    "journey": {"interval_s": JOURNEY_INTERVAL_S},
                    "metrics": {"host": "0.0.0.0", "port": WORKLOAD_PORT},
                },
                health_url=f"{url}/healthz",
                metrics_url=f"{url}/metrics",
                listen={"http": at(workload, WORKLOAD_PORT, ips)},
                admin_url=url,
            )
        )
    return MeshPlan(
        host=HOST,
        control_port=CONTROL_PORT,
        nodes=tuple(nodes),
        links=links,
        records=zone_records(links, scale),
        secrets={**SECRETS, **({"admin_token": admin_token} if admin_token else {})},
    )


def zone_records(
    links: tuple[LinkPlan, ...], scale: Scale = DEFAULT_SCALE
) -> tuple[dict[str, Any], ...]:
    """The records the compose zone file starts with: the mesh's own
    (``chaos.mesh.model.mesh_records``), on the api links of the Toxiproxy container."""
    by_name = {link.name: link.listen for link in links}
    return tuple(mesh_records({name: by_name[name] for name in scale.api_nodes}))
