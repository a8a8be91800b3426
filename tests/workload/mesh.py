"""An in-process mesh: DNS, three SNTP servers, two API replicas and the workload.

Every node listens on an ephemeral loopback port; the DNS zone is rewritten so the
SRV records carry the API ports actually bound. Later issues reuse this to slot a
fault proxy into any edge: pass ``api_ports`` / ``dns_overrides`` pointing at the
proxy, or change the zone through ``mesh.dns.zone``.

    async with running_mesh() as mesh:
        await eventually(lambda: mesh.journeys("resilient") >= 10)
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from chaos.embedded.ports import PortAllocator
from services.api import ApiConfig, ApiServer
from services.dns import DNSServer, Zone
from services.ntp import NTPServer
from services.workload.config import WorkloadConfig
from services.workload.metrics import OUTCOMES
from services.workload.service import WorkloadService
from tests import polling

NTP_NAMES = ("ntp-a", "ntp-b", "ntp-c")
API_NAMES = ("api-1", "api-2")
DEFAULT_CATALOG_ITEMS = 2500
"""The API's own default: over 1 MB of JSON, so the naive client's cost is realistic."""


def free_port(host: str = "127.0.0.1") -> int:
    """A free port below the kernel's ephemeral range, so no outgoing connection takes it
    as its source port before the node binds it (the replicas need each other's first)."""
    return PortAllocator(0, host).take()


def publish_api(
    zone: Zone, ports: Mapping[str, int], *, host: str = "127.0.0.1", ttl: int = 5
) -> None:
    """Point ``_api._tcp`` at the given replicas (node name -> port), A records at ``host``."""
    for name in ports:
        zone.replace(name, "A", [host], ttl=ttl)
    zone.replace(
        "_api._tcp",
        "SRV",
        [
            {"priority": 10, "weight": 50, "port": port, "target": name}
            for name, port in ports.items()
        ],
        ttl=ttl,
    )


eventually = functools.partial(polling.eventually, timeout=10.0)
"""Poll ``check`` until it holds or the deadline passes (never a fixed sleep)."""


@dataclass
class Mesh:
    dns: DNSServer
    ntp: dict[str, NTPServer]
    api: dict[str, ApiServer]
    workload: WorkloadService | None = None
    registries: dict[str, CollectorRegistry] = field(default_factory=dict)

    def workload_config(self, overrides: Mapping[str, Any] | None = None) -> WorkloadConfig:
        """A config pointing at this mesh; ``overrides`` are merged per section."""
        data: dict[str, Any] = {
            "dns": {
                "udp": self.dns.endpoints["udp"],
                "tcp": self.dns.endpoints["tcp"],
                "txt_name": "big.mesh.test.",
            },
            "ntp": {
                "servers": [
                    {"name": name, "address": server.endpoints["udp"]}
                    for name, server in self.ntp.items()
                ]
            },
            "metrics": {"host": "127.0.0.1", "port": 0},
            "journey": {"interval_s": 0.2},
            "seed": 1,
        }
        for section, values in (overrides or {}).items():
            if isinstance(values, Mapping) and isinstance(data.get(section), dict):
                data[section] = {**data[section], **values}
            else:
                data[section] = values
        return WorkloadConfig.from_dict(data)

    @property
    def registry(self) -> CollectorRegistry:
        return self.registries["workload"]

    def sample(self, name: str, labels: Mapping[str, str]) -> float:
        return self.registry.get_sample_value(name, dict(labels)) or 0.0

    def journeys(self, client: str, outcome: str | None = None) -> float:
        outcomes = OUTCOMES if outcome is None else (outcome,)
        return sum(
            self.sample("fallacies_workload_journeys_total", {"client": client, "outcome": o})
            for o in outcomes
        )

    def ok_ratio(self, client: str) -> float:
        total = self.journeys(client)
        return self.journeys(client, "ok") / total if total else 0.0


@contextlib.asynccontextmanager
async def running_mesh(
    *,
    workload: bool = True,
    workload_overrides: Mapping[str, Any] | None = None,
    catalog_items: int = DEFAULT_CATALOG_ITEMS,
    api_overrides: Mapping[str, Any] | None = None,
) -> AsyncIterator[Mesh]:
    """Start every node (the workload last), yield, and stop them in reverse order."""
    stack = contextlib.AsyncExitStack()
    async with stack:
        registries = {
            name: CollectorRegistry() for name in ("dns", *NTP_NAMES, *API_NAMES, "workload")
        }
        dns_server = await stack.enter_async_context(
            DNSServer(port=0, admin_port=0, zone=Zone.default(), registry=registries["dns"])
        )
        ntp = {
            name: await stack.enter_async_context(
                NTPServer(
                    name=name,
                    port=0,
                    admin_port=0,
                    registry=registries[name],
                    rate_limit_key="address",  # as the mesh: every client on 127.0.0.1
                )
            )
            for name in NTP_NAMES
        }
        ports = {name: free_port() for name in API_NAMES}
        api: dict[str, ApiServer] = {}
        for name in API_NAMES:
            peers = {
                peer: f"http://127.0.0.1:{port}" for peer, port in ports.items() if peer != name
            }
            config = ApiConfig(
                replica_id=name,
                port=ports[name],
                peers=peers,
                catalog_items=catalog_items,
                **dict(api_overrides or {}),
            )
            api[name] = await stack.enter_async_context(
                ApiServer(config=config, registry=registries[name])
            )
        publish_api(dns_server.zone, ports)
        mesh = Mesh(dns=dns_server, ntp=ntp, api=api, registries=registries)
        if workload:
            mesh.workload = await stack.enter_async_context(
                WorkloadService(
                    config=mesh.workload_config(workload_overrides), registry=registries["workload"]
                )
            )
        yield mesh
