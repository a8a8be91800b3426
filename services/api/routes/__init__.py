"""Route tables: the public listener (clients and peers) and the admin listener."""

from __future__ import annotations

from aiohttp import web

from services.api.routes import admin, catalog, internal, keys, kv, ops

PUBLIC: tuple[web.RouteTableDef, ...] = (
    ops.routes,
    kv.routes,
    catalog.routes,
    keys.routes,
    internal.routes,
)
ADMIN: tuple[web.RouteTableDef, ...] = (admin.routes,)

__all__ = ["ADMIN", "PUBLIC"]
