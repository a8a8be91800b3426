"""Liveness and metrics: unsigned, so probes and Prometheus need no key."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.api.routes._io import json_response
from services.api.state import state_of

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Includes the replica's time so a client can compare clocks without a signed call."""
    state = state_of(request)
    return json_response(
        {
            "status": "ok",
            "replica": state.config.replica_id,
            "time": state.clock(),
            "catalog_version": state.catalog.version,
            "kv_keys": len(state.store),
        }
    )


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Plain ``generate_latest``: the compression middleware gzips it like any other body."""
    body = generate_latest(state_of(request).registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
