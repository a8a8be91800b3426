"""One API replica as a mesh node: the public listener, the admin listener, replication."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.api._types import Clock
from services.api.app import app_for_state, build_state, create_admin_app
from services.api.config import ApiConfig
from services.api.state import ApiState
from services.common.address import http_url
from services.common.base import Service
from services.common.http import start_site

log = logging.getLogger(__name__)


class ApiServer(Service):
    """``api-1`` / ``api-2``: ``async with ApiServer(config=ApiConfig(replica_id="api-1"))``.

    ``endpoints`` gives ``http`` (public: clients and peers) and ``admin`` (loopback
    by default) as ``http://host:port`` once ``start()`` has returned.
    """

    def __init__(
        self,
        *,
        config: ApiConfig,
        registry: CollectorRegistry | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.config = config
        self.name = config.replica_id
        self.registry = registry if registry is not None else CollectorRegistry()
        self._clock = clock
        self.state: ApiState | None = None
        self._runners: list[web.AppRunner] = []
        self._port: int | None = None
        self._admin_port: int | None = None

    async def start(self) -> None:
        if self._runners:
            return
        started = time.perf_counter()
        state = build_state(self.config, registry=self.registry, clock=self._clock)
        self.state = state
        # The admin API first: /healthz on the public one then means both listen.
        admin, self._admin_port = await start_site(
            create_admin_app(state),
            self.config.admin_host,
            self.config.admin_port,
            what=f"{self.name} admin API",
        )
        self._runners.append(admin)
        try:
            runner, self._port = await start_site(
                app_for_state(state), self.config.host, self.config.port, what=f"{self.name} API"
            )
        except BaseException:
            await self.stop()
            raise
        self._runners.append(runner)
        log.info(
            "%s ready in %.3f s (catalog %d bytes, built in %.3f s)",
            self.name,
            time.perf_counter() - started,
            len(state.catalog.full.identity),
            state.catalog.build_seconds,
        )

    async def stop(self) -> None:
        """Stops replication first so no new outgoing traffic races the listeners' shutdown."""
        if self.state is not None:
            await self.state.replicator.stop()
        runners, self._runners = self._runners, []
        for runner in reversed(runners):
            await runner.cleanup()
        self._port = self._admin_port = None

    @property
    def endpoints(self) -> dict[str, str]:
        if self._port is None or self._admin_port is None:
            return {}
        return {
            "http": http_url(self.config.host, self._port),
            "admin": http_url(self.config.admin_host, self._admin_port),
        }
