"""Build any node from a JSON-able config, so one entry point can run every kind of node.

Adding a kind of node is one factory here plus its registration line in ``FACTORIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.common.base import Service

Config = dict[str, Any]


def _dns(config: Config) -> Service:
    from services.dns import DNSServer, Zone

    zone = config.get("zone")
    return DNSServer(
        host=config.get("host", "127.0.0.1"),
        port=int(config.get("port", 0)),
        admin_host=config.get("admin_host", "127.0.0.1"),
        admin_port=int(config.get("admin_port", 0)),
        admin_token=config.get("admin_token"),
        # A path, or the zone itself (the Swarm stack's, with addresses learnt at start).
        zone=(Zone.from_dict(zone) if isinstance(zone, dict) else Zone.from_file(zone))
        if zone
        else None,
    )


def _ntp(config: Config) -> Service:
    from services.ntp import NTPServer

    return NTPServer(
        host=config.get("host", "127.0.0.1"),
        port=int(config.get("port", 0)),
        admin_host=config.get("admin_host", "127.0.0.1"),
        admin_port=int(config.get("admin_port", 0)),
        admin_token=config.get("admin_token"),
        name=config.get("name", "ntp"),
        rate_limit_key=config.get("rate_limit_key", "host"),
    )


def _api(config: Config) -> Service:
    from services.api import ApiConfig, ApiServer

    return ApiServer(config=ApiConfig.from_dict(config))


def _workload(config: Config) -> Service:
    from services.workload.config import WorkloadConfig
    from services.workload.service import WorkloadService

    return WorkloadService(config=WorkloadConfig.from_dict(config))


def _proxy(config: Config) -> Service:
    from chaos.proxy import ProxyServer

    seed = config.get("seed")
    return ProxyServer(
        api_host=config.get("api_host", "127.0.0.1"),
        api_port=int(config.get("api_port", 8474)),
        api_token=config.get("admin_token"),
        config=list(config.get("proxies", [])),
        seed=int(seed) if seed is not None else None,
    )


FACTORIES: dict[str, Callable[[Config], Service]] = {
    "dns": _dns,
    "ntp": _ntp,
    "api": _api,
    "workload": _workload,
    "proxy": _proxy,
}


def build(kind: str, config: Config) -> Service:
    try:
        factory = FACTORIES[kind]
    except KeyError:
        raise ValueError(f"unknown node kind {kind!r}; known: {', '.join(FACTORIES)}") from None
    return factory(config)
