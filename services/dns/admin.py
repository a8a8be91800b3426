"""Admin HTTP API: read and change the zone while it is served, and scrape metrics.

The routes and bodies are described in ``openapi.yaml`` beside this file (served at
``GET /openapi.json``; docs/http-apis.md renders it).

Names are relative to the origin ("api-1", "_api._tcp", "@") or absolute. Mutations
answer ``{"serial", "changed", "record"?}``; a request that changes nothing leaves
the serial alone. Errors use the mesh's ``{error, status}`` body, plus ``field``
on 400s so a client knows what to fix.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web
from dns.rdatatype import RdataType
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from services.common import openapi
from services.common.errors import FieldError
from services.common.http import json_error, json_errors
from services.common.jsonbody import body_bytes, parse_json
from services.dns import records
from services.dns.zone import RRsetView, Zone

log = logging.getLogger(__name__)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(zone: Zone, registry: CollectorRegistry) -> web.Application:
    api = _AdminAPI(zone)
    app = web.Application(middlewares=[json_errors])
    app.router.add_get("/healthz", api.healthz)
    app.router.add_get("/zone", api.get_zone)
    app.router.add_get("/records", api.list_records)
    app.router.add_post("/records", api.add_records)
    app.router.add_get("/records/{name}/{type}", api.get_rrset)
    app.router.add_put("/records/{name}/{type}", api.replace_rrset)
    app.router.add_patch("/records/{name}/{type}", api.patch_rrset)
    app.router.add_delete("/records/{name}/{type}", api.delete_rrset)
    app.router.add_get("/metrics", make_aiohttp_handler(registry))
    return openapi.serve(app, document())


def document() -> dict[str, Any]:
    """The API's OpenAPI document, its types and TTL bound taken from ``records``."""
    doc = openapi.load(__package__ or "services.dns")
    schemas = doc["components"]["schemas"]
    schemas["Type"]["enum"] = [t.name for t in (*records.EDITABLE_TYPES, RdataType.SOA)]
    schemas["Ttl"]["maximum"] = records.MAX_TTL
    return doc


class _AdminAPI:
    def __init__(self, zone: Zone) -> None:
        self.zone = zone

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "serial": self.zone.serial})

    async def get_zone(self, request: web.Request) -> web.Response:
        return web.json_response(self.zone.to_dict())

    async def list_records(self, request: web.Request) -> web.Response:
        views = self.zone.rrsets()
        name, rdtype = request.query.get("name"), request.query.get("type")
        if name is not None:
            owner = records.parse_name(name, self.zone.origin).to_text()
            views = [v for v in views if v.name == owner]
        if rdtype is not None:
            kind = records.parse_type(rdtype, editable=False).name
            views = [v for v in views if v.type == kind]
        return web.json_response(
            {"serial": self.zone.serial, "records": [v.to_dict() for v in views]}
        )

    async def add_records(self, request: web.Request) -> web.Response:
        body = await _body(request, ("name", "type", "ttl", "value", "values"))
        for required in ("name", "type"):
            if required not in body:
                raise FieldError(required, "is required")
        name, rdtype = body["name"], body["type"]
        existed = self.zone.get(name, rdtype) is not None
        with _value_field(body):
            changed = self.zone.add(name, rdtype, _values(body), ttl=body.get("ttl"))
        return self._changed(changed, name, rdtype, status=200 if existed else 201)

    async def get_rrset(self, request: web.Request) -> web.Response:
        name, rdtype = request.match_info["name"], request.match_info["type"]
        view = self.zone.get(name, rdtype)
        if view is None:
            return _not_found(name, rdtype)
        return web.json_response(view.to_dict())

    async def replace_rrset(self, request: web.Request) -> web.Response:
        name, rdtype = request.match_info["name"], request.match_info["type"]
        body = await _body(request, ("ttl", "value", "values"))
        existed = self.zone.get(name, rdtype) is not None
        with _value_field(body):
            changed = self.zone.replace(name, rdtype, _values(body), ttl=body.get("ttl"))
        return self._changed(changed, name, rdtype, status=200 if existed else 201)

    async def patch_rrset(self, request: web.Request) -> web.Response:
        name, rdtype = request.match_info["name"], request.match_info["type"]
        body = await _body(request, ("ttl",))
        if "ttl" not in body:
            raise FieldError("ttl", "is required")
        try:
            changed = self.zone.set_ttl(name, rdtype, body["ttl"])
        except KeyError:
            return _not_found(name, rdtype)
        return self._changed(changed, name, rdtype)

    async def delete_rrset(self, request: web.Request) -> web.Response:
        name, rdtype = request.match_info["name"], request.match_info["type"]
        if not self.zone.delete(name, rdtype):
            return _not_found(name, rdtype)
        log.info("zone serial %d: deleted %s %s", self.zone.serial, name, rdtype)
        return web.json_response({"serial": self.zone.serial, "changed": True})

    def _changed(self, changed: bool, name: str, rdtype: str, *, status: int = 200) -> web.Response:
        view: RRsetView | None = self.zone.get(name, rdtype)
        if changed:
            log.info("zone serial %d: %s", self.zone.serial, view)
        body: dict[str, Any] = {"serial": self.zone.serial, "changed": changed}
        if view is not None:
            body["record"] = view.to_dict()
        return web.json_response(body, status=status)


async def _body(request: web.Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    try:
        body = parse_json(await body_bytes(request))
    except ValueError as exc:
        raise FieldError("body", str(exc)) from None
    if not isinstance(body, dict):
        raise FieldError("body", "must be a JSON object")
    for key in body:
        if key not in allowed:
            raise FieldError(key, f"unknown field (allowed: {', '.join(allowed)})")
    return body


def _values(body: dict[str, Any]) -> object:
    if "value" in body and "values" in body:
        raise FieldError("value", "give either value or values, not both")
    if "value" in body:
        return [body["value"]]
    if "values" not in body:
        raise FieldError("values", "is required (or a single value)")
    return body["values"]


@contextmanager
def _value_field(body: dict[str, Any]) -> Iterator[None]:
    """Report errors in a single ``value`` as ``value``, not as the ``values[0]`` it became."""
    try:
        yield
    except FieldError as exc:
        if "value" in body and exc.field.startswith("values[0]"):
            field = "value" + exc.field.removeprefix("values[0]")
            raise FieldError(field, str(exc).split(": ", 1)[-1]) from None
        raise


def _not_found(name: str, rdtype: str) -> web.Response:
    return json_error(404, f"no {rdtype.upper()} records at {name}")
