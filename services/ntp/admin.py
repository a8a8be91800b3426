"""The admin API that tells an SNTP server how to lie (the clock-skew fault).

The routes and bodies are described in ``openapi.yaml`` beside this file (served at
``GET /openapi.json``; docs/http-apis.md renders it).

Bodies are JSON objects with ``offset`` (seconds), ``drift_ppm``, ``stratum`` (1..15)
and ``leap`` (0..3). Anything wrong is a 400 ``{error, status, field}`` and changes
nothing. Every change is logged with its source address: a clock that lies because
"another administrator" said so should leave a trace.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.registry import CollectorRegistry

from services.common import openapi
from services.common.errors import FieldError
from services.common.http import json_errors
from services.common.jsonbody import body_bytes, parse_json
from services.ntp.clock import MAX_DRIFT_PPM, MAX_OFFSET_SECONDS, Lies, LyingClock
from services.ntp.packet import STRATUM_MAX

log = logging.getLogger(__name__)

CLOCK: Final = web.AppKey("clock", LyingClock)
NAME: Final = web.AppKey("name", str)

_NUMBERS: Final = ("offset", "drift_ppm")
_INTEGERS: Final = ("stratum", "leap")

routes = web.RouteTableDef()


def create_app(clock: LyingClock, registry: CollectorRegistry, *, name: str) -> web.Application:
    app = web.Application(middlewares=[json_errors])
    app[CLOCK] = clock
    app[NAME] = name
    app.add_routes(routes)
    app.router.add_get("/metrics", make_aiohttp_handler(registry))
    return openapi.serve(app, document())


def document() -> dict[str, Any]:
    """The API's OpenAPI document, its bounds taken from the clock's own."""
    doc = openapi.load(__package__ or "services.ntp")
    lies = doc["components"]["schemas"]["Lies"]["properties"]
    for field, bound in (("offset", MAX_OFFSET_SECONDS), ("drift_ppm", MAX_DRIFT_PPM)):
        lies[field].update(minimum=-bound, maximum=bound)
    lies["stratum"]["maximum"] = STRATUM_MAX
    return doc


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "node": request.app[NAME]})


@routes.get("/clock")
async def get_clock(request: web.Request) -> web.Response:
    return web.json_response(request.app[CLOCK].snapshot())


@routes.put("/clock")
async def put_clock(request: web.Request) -> web.Response:
    changes = parse_changes(await _body(request))
    clock = request.app[CLOCK]
    clock.tell(Lies(**changes))
    return _changed(request, clock, "replaced", changes)


@routes.patch("/clock")
async def patch_clock(request: web.Request) -> web.Response:
    changes = parse_changes(await _body(request))
    clock = request.app[CLOCK]
    clock.update(**changes)
    return _changed(request, clock, "updated", changes)


@routes.post("/clock/reset")
async def reset_clock(request: web.Request) -> web.Response:
    clock = request.app[CLOCK]
    clock.reset()
    return _changed(request, clock, "reset", {})


def _changed(
    request: web.Request, clock: LyingClock, verb: str, changes: dict[str, Any]
) -> web.Response:
    log.info("%s: clock %s by %s: %s", request.app[NAME], verb, request.remote, changes)
    return web.json_response(clock.snapshot())


async def _body(request: web.Request) -> Any:
    raw = await body_bytes(request)
    if not raw.strip():
        return {}
    try:
        return parse_json(raw)
    except ValueError as exc:
        raise FieldError("body", str(exc)) from None


def parse_changes(body: Any) -> dict[str, Any]:
    """Type-check a JSON body field by field; ranges are checked by ``Lies`` itself."""
    if not isinstance(body, dict):
        raise FieldError("body", f"must be a JSON object, got {type(body).__name__}")
    changes: dict[str, Any] = {}
    for field, value in body.items():
        if field in _NUMBERS:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FieldError(field, f"must be a number, got {json.dumps(value)}")
            try:
                changes[field] = float(value)
            except OverflowError as exc:
                raise FieldError(field, f"out of range: {value}") from exc
        elif field in _INTEGERS:
            if isinstance(value, bool) or not isinstance(value, int):
                raise FieldError(field, f"must be an integer, got {json.dumps(value)}")
            changes[field] = value
        else:
            known = ", ".join(_NUMBERS + _INTEGERS)
            raise FieldError(field, f"unknown field (expected {known})")
    Lies(**changes)
    return changes
