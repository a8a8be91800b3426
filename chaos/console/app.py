"""The console's routes: the page, its live feed and the few changes it may ask for.

    GET  /  /static/*  /api/meta  /live (WebSocket)   open: reading changes nothing
    POST /api/links/{link}/faults   DELETE /api/links/{link}/faults/{name}
    POST /api/reset   POST /api/nodes/{node}/{action}
    POST /api/runs    POST /api/runs/next   POST /api/runs/stop

Writes want the mesh's admin token when it has one, JSON bodies, and the page's
own origin: the browser guard refuses a foreign ``Host`` (DNS rebinding), a
foreign ``Origin`` and form or text/plain bodies, before any handler runs. Every
bad field is a 400 that names it, and nothing is applied then.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any, Final

import aiohttp
from aiohttp import web

from chaos.console.catalog import catalog
from chaos.console.hub import ACTOR, Hub
from chaos.console.runs import RunBusy, RunControl, RunRefused
from chaos.mesh.control import node_action
from chaos.mesh.errors import LinkError, MeshError
from chaos.mesh.links import STREAMS, Links
from chaos.proxy.toxics import REGISTRY
from chaos.proxy.wrapper import MAX_TTL_S
from chaos.toxiproxy import ToxiproxyError
from services.common import openapi
from services.common.admin_token import HEADER, OPEN_PATHS, protect
from services.common.browser_guard import foreign_page
from services.common.errors import FieldError
from services.common.http import json_error, json_errors
from services.common.jsonbody import read_object
from services.workload.config import DEFENCES

__all__ = ["NODE_ACTIONS", "PAGE_PATHS", "create_app", "document"]

NODE_ACTIONS: Final = ("stop", "start", "restart", "kill", "pause", "resume")
DEFAULT_TTL_S: Final = 30.0
_STATIC: Final = resources.files("chaos.console") / "static"
_PLOTLY: Final = "plotly.min.js"
"""Served from the installed plotly package (its wheel ships the bundle): no CDN, offline."""
_FILES: Final = {
    "/": ("index.html", "text/html"),
    "/static/console.js": ("console.js", "text/javascript"),
    "/static/console.css": ("console.css", "text/css"),
}
PAGE_PATHS: Final = frozenset({*_FILES, "/static/vendor/plotly.min.js", "/live", "/api/meta"})
"""Read without the token: the page must load before it can be given one."""

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HUB: Final = web.AppKey("hub", Hub)
RUNS: Final = web.AppKey("runs", RunControl)


def document() -> dict[str, Any]:
    doc = openapi.load(__package__ or "chaos.console")
    schemas = doc["components"]["schemas"]
    schemas["NewFault"]["properties"]["type"]["enum"] = sorted(REGISTRY)
    schemas["NewFault"]["properties"]["stream"]["enum"] = list(STREAMS)
    schemas["NewFault"]["properties"]["ttl_s"]["maximum"] = MAX_TTL_S
    schemas["NewRun"]["properties"]["disable"]["items"]["enum"] = list(DEFENCES)
    doc["paths"]["/api/nodes/{node}/{action}"]["post"]["parameters"][1]["schema"]["enum"] = list(
        NODE_ACTIONS
    )
    return doc


# -- reading bodies -------------------------------------------------------------------


async def _object(request: web.Request, *allowed: str) -> dict[str, Any]:
    """The JSON object body with only ``allowed`` members; an empty body is ``{}``."""
    return await read_object(request, allowed=allowed, empty_ok=True)


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FieldError(name, f"expected a number, got {value!r}")
    if not low <= value <= high:
        raise FieldError(name, f"{value!r} is out of range {low:g}..{high:g}")
    return float(value)


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise FieldError(name, f"expected true or false, got {value!r}")
    return value


def _choice(body: dict[str, Any], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = body.get(name, default)
    if value not in allowed:
        raise FieldError(name, f"expected one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _link(request: web.Request) -> str:
    name = request.match_info["link"]
    if name not in request.app[HUB].state.links:
        known = ", ".join(sorted(request.app[HUB].state.links))
        raise web.HTTPNotFound(reason=f"no link named {name!r}; links: {known}")
    return name


# -- handlers -------------------------------------------------------------------------


async def _file(request: web.Request) -> web.StreamResponse:
    name, kind = _FILES[request.path]
    body = (_STATIC / name).read_bytes()
    return web.Response(
        body=body,
        content_type=kind,
        charset="utf-8",
        headers={"Cache-Control": "no-cache", **_PAGE_HEADERS},
    )


async def _plotly(request: web.Request) -> web.StreamResponse:
    bundle = Path(str(resources.files("plotly") / "package_data" / _PLOTLY))
    return web.FileResponse(bundle, headers={"Cache-Control": "max-age=86400"})


_PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def _meta(request: web.Request) -> web.Response:
    hub, runs = request.app[HUB], request.app[RUNS]
    return web.json_response(
        {
            "backend": hub.backend,
            "token_required": bool(hub.home.admin_headers),
            "token_header": HEADER,
            "streams": list(STREAMS),
            "node_actions": list(NODE_ACTIONS),
            "toxics": list(catalog()),
            "experiments": [
                {
                    "fallacy": e.fallacy,
                    "name": e.name,
                    "title": e.title,
                    "defences": list(e.defences),
                }
                for e in runs.experiments
            ],
            "defences": DEFENCES,
            "ttl_max_s": MAX_TTL_S,
            "ttl_default_s": DEFAULT_TTL_S,
        }
    )


async def _live(request: web.Request) -> web.StreamResponse:
    """The live feed, a WebSocket: a browser holds at most six HTTP connections per
    host across all its tabs, so a seventh tab's event stream would wait for ever.
    No CORS rule guards a WebSocket: another site's page is refused here."""
    foreign = foreign_page(request.headers)
    if foreign is not None:
        return json_error(403, foreign)
    hub = request.app[HUB]
    socket = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
    await socket.prepare(request)
    queue = hub.subscribe()
    try:
        await socket.send_str(json.dumps({"event": "history", "data": hub.history()}))
        reader = asyncio.create_task(_drain(socket))
        while (payload := await queue.get()) is not None and not socket.closed:
            await socket.send_str('{"event": "snapshot", "data": ' + payload + "}")
        reader.cancel()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.unsubscribe(queue)
        await socket.close()
    return socket


async def _drain(socket: web.WebSocketResponse) -> None:
    """The page sends nothing; reading is what notices it has gone."""
    async for _ in socket:
        pass
    await socket.close()


async def _add_fault(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    link = _link(request)
    body = await _object(request, "type", "stream", "toxicity", "attributes", "ttl_s")
    kind = body.get("type")
    if kind not in REGISTRY:
        raise FieldError("type", f"expected one of {', '.join(sorted(REGISTRY))}, got {kind!r}")
    stream = _choice(body, "stream", "downstream", tuple(STREAMS))
    toxicity = _number(body, "toxicity", 1.0, 0.0, 1.0)
    ttl = _number(body, "ttl_s", DEFAULT_TTL_S, 0.001, MAX_TTL_S)
    attributes = body.get("attributes", {})
    if not isinstance(attributes, dict):
        raise FieldError("attributes", f"expected an object, got {type(attributes).__name__}")
    try:
        # One stream, named uniquely as every fault is (two never remove each other's).
        (added,) = await Links(hub.state, actor=ACTOR).add_toxics(
            link, str(kind), streams=(stream,), attributes=attributes, toxicity=toxicity, ttl=ttl
        )
    except LinkError as exc:
        return json_error(400, str(exc))
    hub.kick()
    toxic = added.toxic
    return web.json_response(
        {
            "link": link,
            "fault": {
                "name": toxic.name,
                "type": toxic.type,
                "stream": toxic.stream,
                "toxicity": toxic.toxicity,
                "attributes": dict(toxic.attributes),
                "expires_in_s": ttl,
            },
        },
        status=201,
    )


async def _remove_fault(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    link, name = _link(request), request.match_info["name"]
    try:
        await Links(hub.state, actor=ACTOR).remove_toxic(link, name)
    except LinkError as exc:
        cause = exc.__cause__
        missing = isinstance(cause, ToxiproxyError) and cause.status == 404
        return json_error(404 if missing else 502, str(exc))
    hub.kick()
    return web.json_response({"removed": name})


async def _reset(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    await _object(request)
    try:
        await Links(hub.state, actor=ACTOR).reset()
    except LinkError as exc:
        return json_error(502, str(exc))
    hub.kick()
    return web.json_response({"reset": sorted(hub.state.links)})


async def _node(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    node, action = request.match_info["node"], request.match_info["action"]
    if node not in hub.state.nodes:
        known = ", ".join(sorted(hub.state.nodes))
        return json_error(404, f"no node named {node!r}; nodes: {known}")
    if action not in NODE_ACTIONS:
        return json_error(400, f"action: expected one of {', '.join(NODE_ACTIONS)}", field="action")
    await _object(request)
    try:
        result = await node_action(hub.state, node, action)
    except MeshError as exc:
        return json_error(502, str(exc))
    hub.kick()
    return web.json_response(
        {"name": result.get("name"), "state": result.get("state"), "pid": result.get("pid")}
    )


async def _run_start(request: web.Request) -> web.Response:
    runs = request.app[RUNS]
    body = await _object(request, "which", "quick", "step", "disable")
    which = body.get("which", "all")
    if not isinstance(which, str) or not which:
        raise FieldError("which", f"expected all, a fallacy number or a name, got {which!r}")
    disable = body.get("disable", [])
    if not isinstance(disable, list) or not all(isinstance(d, str) for d in disable):
        raise FieldError("disable", "expected a list of defence names")
    try:
        run = runs.start(
            which=which,
            quick=_flag(body, "quick", True),
            step=_flag(body, "step", False),
            disable=disable,
        )
    except RunRefused as exc:
        return json_error(400, str(exc))
    except RunBusy as exc:
        return json_error(409, str(exc))
    return web.json_response(run.to_dict(), status=202)


async def _run_next(request: web.Request) -> web.Response:
    body = await _object(request, "skip")
    try:
        run = request.app[RUNS].next(skip=_flag(body, "skip", False))
    except RunBusy as exc:
        return json_error(409, str(exc))
    return web.json_response(run.to_dict())


async def _run_stop(request: web.Request) -> web.Response:
    await _object(request)
    try:
        run = await request.app[RUNS].stop()
    except RunBusy as exc:
        return json_error(409, str(exc))
    return web.json_response(run.to_dict())


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "pages": request.app[HUB].pages})


@web.middleware
async def _upstream_errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """A proxy or control API that does not answer is a 502 naming it, not a 500."""
    try:
        return await handler(request)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return json_error(502, f"the mesh did not answer: {exc or type(exc).__name__}")


# -- the app --------------------------------------------------------------------------


def create_app(hub: Hub, runs: RunControl, *, host: str, token: str | None) -> web.Application:
    """The console on ``host``; with ``token`` every write wants it (reads never do)."""
    app = web.Application(middlewares=[json_errors, _upstream_errors], client_max_size=64 * 1024)
    app[HUB] = hub
    app[RUNS] = runs
    for path in _FILES:
        app.router.add_get(path, _file)
    app.router.add_get("/static/vendor/plotly.min.js", _plotly)
    app.router.add_get("/api/meta", _meta)
    app.router.add_get("/live", _live)
    app.router.add_get("/healthz", _healthz)
    app.router.add_post("/api/links/{link}/faults", _add_fault)
    app.router.add_delete("/api/links/{link}/faults/{name}", _remove_fault)
    app.router.add_post("/api/reset", _reset)
    app.router.add_post("/api/nodes/{node}/{action}", _node)
    app.router.add_post("/api/runs", _run_start)
    app.router.add_post("/api/runs/next", _run_next)
    app.router.add_post("/api/runs/stop", _run_stop)

    async def _close(app: web.Application) -> None:
        with contextlib.suppress(Exception):
            await runs.close()

    app.on_shutdown.append(_close)
    openapi.serve(app, document())
    return protect(app, token=token, host=host, open_paths=OPEN_PATHS | PAGE_PATHS)
