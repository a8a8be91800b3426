"""What the handlers share: one ``ApiState`` per replica, reachable from any request."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.api._types import Clock
from services.api.catalog import Catalog
from services.api.config import ApiConfig
from services.api.idempotency import IdempotencyStore
from services.api.keys import KeyRing
from services.api.metrics import ApiMetrics
from services.api.replication import Replicator
from services.api.store import KVStore


@dataclass
class ApiState:
    config: ApiConfig
    clock: Clock
    registry: CollectorRegistry
    metrics: ApiMetrics
    keys: KeyRing
    store: KVStore
    idempotency: IdempotencyStore
    catalog: Catalog
    replicator: Replicator

    def set_catalog(self, catalog: Catalog) -> None:
        """Swap in a new catalog version; requests in flight keep the one they started with."""
        self.catalog = catalog
        self.metrics.catalog_bytes.labels("identity").set(len(catalog.full.identity))
        self.metrics.catalog_bytes.labels("gzip").set(len(catalog.full.gzipped))
        self.metrics.catalog_version.set(catalog.version)
        self.metrics.catalog_build_seconds.set(catalog.build_seconds)


STATE: web.AppKey[ApiState] = web.AppKey("fallacies_api_state", ApiState)


def state_of(request: web.Request) -> ApiState:
    return request.app[STATE]
