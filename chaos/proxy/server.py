"""``ProxyServer``: the fault proxy as a mesh node (links + REST API + metrics)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from chaos.proxy.api import create_app
from chaos.proxy.audit import DEFAULT_CAPACITY, AuditLog
from chaos.proxy.collection import ProxyCollection
from chaos.proxy.config import ConfigError, parse_populate
from chaos.proxy.errors import ListenError, ProxyApiError
from chaos.proxy.expiry import Expiry
from chaos.proxy.metrics import ProxyMetrics
from chaos.proxy.udp_link import DEFAULT_IDLE_TIMEOUT
from services.common.address import http_url
from services.common.admin_token import protect
from services.common.base import Service
from services.common.errors import PortInUseError
from services.common.http import start_site

__all__ = ["ProxyServer"]

log = logging.getLogger(__name__)


class ProxyServer(Service):
    """Links from ``config`` (a Toxiproxy populate list), driven through a Toxiproxy-style API.

    ``seed`` makes every toxicity and jitter draw reproducible; ``registry``
    receives the ``fallacies_proxy_*`` series (a fresh one when None), also
    served at ``GET /metrics`` on the API port.
    """

    name = "proxy"

    def __init__(
        self,
        *,
        api_host: str = "127.0.0.1",
        api_port: int = 8474,
        api_token: str | None = None,
        config: list[dict[str, Any]] | None = None,
        seed: int | None = None,
        registry: CollectorRegistry | None = None,
        udp_idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        audit_capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        self.api_host = api_host
        self.api_port = api_port
        self.api_token = api_token
        self.config = list(config or [])
        self.seed = seed
        self.registry = registry if registry is not None else CollectorRegistry()
        self.proxies = ProxyCollection(seed=seed, udp_idle_timeout=udp_idle_timeout)
        self.audit = AuditLog(audit_capacity)
        self.expiry = Expiry()
        self.metrics = ProxyMetrics(self.proxies, self.registry, self.audit)
        self._runner: web.AppRunner | None = None
        self._bound_api_port: int | None = None

    @property
    def endpoints(self) -> dict[str, str]:
        """``api`` (URL), then ``"<protocol> <link>"`` → listen address for every enabled link."""
        if self._bound_api_port is None:
            raise RuntimeError("ProxyServer is not started")
        endpoints = {"api": http_url(self.api_host, self._bound_api_port)}
        for proxy in self.proxies:
            if proxy.enabled:
                endpoints[f"{proxy.protocol.wire} {proxy.name}"] = proxy.listen
        return endpoints

    @property
    def api_url(self) -> str:
        return self.endpoints["api"]

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("ProxyServer is already started")
        try:
            specs = parse_populate(self.config)
        except ProxyApiError as exc:
            raise ConfigError(f"proxy config: {exc.message}") from None
        try:
            for spec in specs:
                try:
                    await self.proxies.add_or_replace(spec)
                except ListenError as exc:
                    raise PortInUseError(
                        f"proxy link {spec.name}", exc.host, exc.port, exc.reason
                    ) from None
                except ProxyApiError as exc:
                    raise ConfigError(f"proxy {spec.name}: {exc.message}") from None
            app = protect(
                create_app(
                    self.proxies, registry=self.registry, audit=self.audit, expiry=self.expiry
                ),
                token=self.api_token,
                host=self.api_host,
                simple_bodies=True,
            )
            self._runner, self._bound_api_port = await start_site(
                app, self.api_host, self.api_port, what="proxy API"
            )
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        self.expiry.cancel_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.proxies.clear()
        self._bound_api_port = None
