"""The ``workload`` node: both clients running side by side, and a listener to watch them.

A third client, one's own (``config.own.spec``, loaded by ``own.py``), runs beside them
when configured.

    GET /metrics   Prometheus exposition of the injected registry
    GET /healthz   {"status": "ok", "clients": [...]} while the clients run
    GET /status    per client: journeys by outcome, the last outcome and error, clock
                   offset, NTP servers believed, endpoints in use, key id
    GET /journeys  per client: its last journeys, hop by hop (``trace.py``)

Each client has two tasks, the journey loop and the clock-sync loop; ``stop()``
cancels all four and waits for them, so even a naive request stuck on a link that
never answers is torn down cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from services.common import openapi
from services.common.address import http_url
from services.common.base import Service
from services.common.http import start_site
from services.workload._types import BUILT_IN
from services.workload.client import BaseClient, Shared
from services.workload.config import WorkloadConfig
from services.workload.journey import run_forever, sync_forever
from services.workload.keys import KeyBook
from services.workload.metrics import WorkloadMetrics
from services.workload.naive import NaiveClient
from services.workload.own import load_client
from services.workload.resilient import ResilientClient
from services.workload.resolver import EndpointOracle

log = logging.getLogger(__name__)


class WorkloadService(Service):
    """``async with WorkloadService(config=WorkloadConfig.from_dict(...))``."""

    name = "workload"

    def __init__(
        self,
        *,
        config: WorkloadConfig | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.config = config if config is not None else WorkloadConfig()
        self.registry = registry if registry is not None else CollectorRegistry()
        own = load_client(self.config.own.spec) if self.config.own.spec else None
        names = BUILT_IN if own is None else (*BUILT_IN, own.name)
        self.metrics = WorkloadMetrics(
            self.registry, replicas=self.config.api.replicas, clients=names
        )
        api = self.config.api
        shared = Shared(
            metrics=self.metrics,
            key_book=KeyBook(api.response_keys),
            oracle=EndpointOracle(self.config.dns, srv_name=api.srv_name),
        )
        self.naive = NaiveClient(self.config, shared, seed=self.config.seed)
        self.resilient = ResilientClient(self.config, shared, seed=self.config.seed)
        self.own = own(self.config, shared, seed=self.config.seed) if own is not None else None
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def clients(self) -> tuple[BaseClient, ...]:
        return (
            (self.naive, self.resilient)
            if self.own is None
            else (self.naive, self.resilient, self.own)
        )

    @property
    def endpoints(self) -> dict[str, str]:
        if self._port is None:
            return {}
        return {"http": http_url(self.config.metrics.host, self._port)}

    async def start(self) -> None:
        if self._tasks:
            return
        listen = self.config.metrics
        self._runner, self._port = await start_site(
            create_app(self), listen.host, listen.port, what="workload HTTP"
        )
        try:
            for client in self.clients:
                await client.start()
                self._tasks.append(
                    asyncio.create_task(
                        sync_forever(client, self.config.ntp.interval_s), name=f"{client.name}-ntp"
                    )
                )
                self._tasks.append(
                    asyncio.create_task(
                        run_forever(client, self.config.journey.interval_s),
                        name=f"{client.name}-journeys",
                    )
                )
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        # Cancelled again until they end: on Python 3.11 asyncio.wait_for (which
        # dnspython uses) can swallow a cancellation that lands as its query completes.
        pending = set(tasks)
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await task
                except Exception:
                    log.exception("workload task %s ended with an error", task.get_name())
        for client in self.clients:
            await client.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._port = None

    @property
    def running(self) -> bool:
        """Started, and no loop has died (a dead loop is a bug: ``/healthz`` says so)."""
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    def status(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "defences": self.config.to_dict()["defences"],
            "clients": {client.name: _client_status(client) for client in self.clients},
        }


SERVICE: web.AppKey[WorkloadService] = web.AppKey("workload", WorkloadService)


def _client_status(client: BaseClient) -> dict[str, Any]:
    status = client.status
    timesync = getattr(client, "timesync", None)
    return {
        "journeys": dict(status.journeys),
        "last_outcome": status.last_outcome,
        "last_error": status.last_error,
        "last_duration_s": status.last_duration_s,
        "clock_offset_s": client.clock.offset,
        "ntp_selected": list(getattr(timesync, "selected", ())),
        "endpoints": list(status.endpoints),
        "key_id": client.credentials.key_id,
    }


def create_app(service: WorkloadService) -> web.Application:
    app = web.Application()
    app[SERVICE] = service

    async def healthz(request: web.Request) -> web.Response:
        svc = request.app[SERVICE]
        running = svc.running
        body = {"status": "ok" if running else "stopped", "clients": [c.name for c in svc.clients]}
        return web.json_response(body, status=200 if running else 503)

    async def status(request: web.Request) -> web.Response:
        return web.json_response(request.app[SERVICE].status())

    app.router.add_get("/metrics", make_aiohttp_handler(service.registry))
    app.router.add_get("/healthz", healthz)

    async def journeys(request: web.Request) -> web.Response:
        clients = request.app[SERVICE].clients
        return web.json_response({client.name: client.journeys.to_list() for client in clients})

    app.router.add_get("/status", status)
    app.router.add_get("/journeys", journeys)
    return openapi.serve(app, openapi.load(__package__ or "services.workload"))
