"""Assemble a replica: state, middleware and routes, as aiohttp applications.

``create_app`` is the public listener (clients and peers) and is all a test needs
for the client-facing behaviour; ``create_admin_app`` wraps the same state for the
loopback admin listener. Replication starts and stops with the public app.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.api._types import Clock
from services.api.catalog import Catalog
from services.api.config import ApiConfig
from services.api.idempotency import IdempotencyStore
from services.api.keys import KeyRing
from services.api.metrics import ApiMetrics
from services.api.middleware import ADMIN_MIDDLEWARES, PUBLIC_MIDDLEWARES
from services.api.replication import ReplicationSettings, Replicator
from services.api.routes import ADMIN, PUBLIC
from services.api.state import STATE, ApiState
from services.api.store import KVStore
from services.common import openapi

_ADMIN_MAX_BODY = 64 * 1024
_PACKAGE = "services.api"


def build_state(
    config: ApiConfig, *, registry: CollectorRegistry | None = None, clock: Clock = time.time
) -> ApiState:
    """Everything a replica holds; builds the catalog (the slow part, ~0.1 s)."""
    registry = registry if registry is not None else CollectorRegistry()
    metrics = ApiMetrics(registry)
    keys = KeyRing.initial(config.keys, config.response_keys)
    store = KVStore()
    catalog = Catalog.build(
        config.catalog_items,
        seed=config.catalog_seed,
        version=config.catalog_version,
        gzip_level=config.gzip_level,
        warm_per_page=config.catalog_per_page,
    )
    replicator = Replicator(
        replica_id=config.replica_id,
        peers=dict(config.peers),
        store=store,
        keys=keys,
        clock=clock,
        metrics=metrics,
        settings=ReplicationSettings(
            batch_size=config.replication_batch_size,
            timeout_s=config.replication_timeout_s,
            backoff_base_s=config.replication_backoff_base_s,
            backoff_max_s=config.replication_backoff_max_s,
            anti_entropy_interval_s=config.anti_entropy_interval_s,
            anti_entropy_idle_interval_s=config.anti_entropy_idle_interval_s,
            divergence_after_s=config.divergence_after_s,
        ),
    )
    state = ApiState(
        config=config,
        clock=clock,
        registry=registry,
        metrics=metrics,
        keys=keys,
        store=store,
        idempotency=IdempotencyStore(
            ttl_s=config.idempotency_ttl_s, max_entries=config.idempotency_max_entries
        ),
        catalog=catalog,
        replicator=replicator,
    )
    state.set_catalog(catalog)
    return state


def create_app(
    config: ApiConfig, *, registry: CollectorRegistry | None = None, clock: Clock = time.time
) -> web.Application:
    """The public application of one replica; ``clock`` is its wall clock (unix seconds)."""
    return app_for_state(build_state(config, registry=registry, clock=clock))


def app_for_state(state: ApiState) -> web.Application:
    app = web.Application(
        middlewares=PUBLIC_MIDDLEWARES, client_max_size=state.config.client_max_size
    )
    app[STATE] = state
    for table in PUBLIC:
        app.add_routes(table)

    async def replication(_: web.Application) -> AsyncIterator[None]:
        await state.replicator.start()
        yield
        await state.replicator.stop()

    app.cleanup_ctx.append(replication)
    return openapi.serve(app, openapi.load(_PACKAGE))


def create_admin_app(state: ApiState) -> web.Application:
    """The admin application over the same state (key rotation, catalog version)."""
    app = web.Application(middlewares=ADMIN_MIDDLEWARES, client_max_size=_ADMIN_MAX_BODY)
    app[STATE] = state
    for table in ADMIN:
        app.add_routes(table)
    return openapi.serve(app, openapi.load(_PACKAGE, "openapi-admin.yaml"))
