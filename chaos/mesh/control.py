"""The control API every backend serves (loopback only): nodes, node faults, the janitor.

The embedded supervisor and the compose ``control`` service serve the same routes
(``create_app``, described in ``openapi.yaml`` beside this file and served at
``GET /openapi.json``), and every command talks to either with the client functions
below (``fetch_status``, ``node_action``, ``file_revert``, ``cancel_revert``).

Janitor URLs must point at one of the mesh's own admin APIs: the supervisor is not a
general-purpose HTTP client for whoever can reach it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from chaos.mesh.errors import MeshError
from chaos.mesh.janitor import Janitor
from chaos.mesh.model import ControlledNode, MeshPlan, NodeStatus
from chaos.mesh.state import MeshState
from chaos.proxy.wrapper import MAX_TTL_S
from services.common import openapi
from services.common.browser_guard import browser_guard
from services.common.http import json_error, json_errors
from services.common.jsonbody import body_bytes, parse_json

__all__ = [
    "ACTIONS",
    "ENGINE_ACTIONS",
    "ControlledMesh",
    "EngineRefused",
    "Engines",
    "NoSuchEngine",
    "cancel_revert",
    "create_app",
    "fetch_status",
    "file_revert",
    "node_action",
]


class ControlledMesh(Protocol):
    """What the routes need: the embedded ``Supervisor`` or the compose ``DockerMesh``."""

    @property
    def plan(self) -> MeshPlan: ...
    @property
    def nodes(self) -> Mapping[str, ControlledNode]: ...
    @property
    def janitor(self) -> Janitor: ...
    @property
    def shutdown_requested(self) -> asyncio.Event: ...
    async def status(self) -> list[NodeStatus]: ...
    async def start_node(self, name: str) -> None: ...


class NoSuchEngine(MeshError, LookupError):
    """No engine of the swarm has that hostname or ID (404)."""


class EngineRefused(MeshError):
    """The engine action would break the mesh rather than show a fault (409)."""


class Engines(Protocol):
    """A Swarm's engines (``chaos.compose.engines.SwarmEngines``): only the Swarm
    stack's control has them; elsewhere ``/engines`` answers 404."""

    async def describe(self) -> list[dict[str, Any]]: ...
    async def act(self, name: str, action: str) -> dict[str, Any]: ...


ACTIONS = ("stop", "start", "restart", "kill", "pause", "resume")
REVERSIBLE = {"stop": "start", "kill": "start", "pause": "resume"}
ENGINE_ACTIONS = ("drain", "activate")
NO_ENGINES = "this mesh is not a Swarm stack: it runs on one host, with no engine to drain"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _ttl(request: web.Request) -> float | None:
    raw = request.query.get("ttl")
    if raw is None:
        return None
    value = float(raw)
    if not math.isfinite(value) or not 0 < value <= MAX_TTL_S:
        raise ValueError(f"ttl must be a number of seconds in (0, {MAX_TTL_S}]")
    return value


def _action_and_ttl(request: web.Request, actions: tuple[str, ...]) -> float | None | web.Response:
    """The request's ``?ttl=`` once its action is one of ``actions``, or the 400 to send."""
    action = request.match_info["action"]
    if action not in actions:
        return json_error(400, f"unknown action {action!r}; use one of {', '.join(actions)}")
    try:
        return _ttl(request)
    except ValueError as exc:
        return json_error(400, str(exc), field="ttl")


def create_app(supervisor: ControlledMesh, *, engines: Engines | None = None) -> web.Application:
    allowed = tuple(
        node.admin_url.rstrip("/") + "/" for node in supervisor.plan.nodes if node.admin_url
    )

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def nodes(request: web.Request) -> web.Response:
        return web.json_response([s.to_dict() for s in await supervisor.status()])

    async def act(request: web.Request) -> web.Response:
        name, action = request.match_info["name"], request.match_info["action"]
        if name not in supervisor.nodes:
            return json_error(404, f"no node named {name!r}")
        checked = _action_and_ttl(request, ACTIONS)
        if isinstance(checked, web.Response):
            return checked
        ttl = checked
        try:
            await perform(name, action)
        except (RuntimeError, LookupError) as exc:
            # A node that did not come back (MeshStartError), a vanished container: the
            # caller gets the reason, not a bare 500.
            return json_error(502, f"{action} {name}: {exc}")
        proc = supervisor.nodes[name]
        body: dict[str, Any] = {"name": name, "state": proc.state, "pid": proc.pid}
        if ttl is not None and action in REVERSIBLE:
            revert = REVERSIBLE[action]

            async def undo() -> None:
                await perform(name, revert)

            job = supervisor.janitor.schedule(ttl, f"{revert} {name}", undo)
            body["revert"] = job.to_dict()
        return web.json_response(body)

    async def perform(name: str, action: str) -> None:
        proc = supervisor.nodes[name]
        if action in ("stop", "restart"):
            await proc.stop()
        if action == "kill":
            await proc.kill()
        if action == "pause":
            await proc.pause()
        if action == "resume":
            await proc.resume()
        if action in ("start", "restart"):
            await supervisor.start_node(name)

    async def janitor_list(request: web.Request) -> web.Response:
        return web.json_response([job.to_dict() for job in supervisor.janitor.jobs()])

    async def janitor_add(request: web.Request) -> web.Response:
        try:
            data = parse_json(await body_bytes(request))
        except ValueError as exc:
            return json_error(400, f"body: {exc}", field="body")
        if not isinstance(data, dict):
            return json_error(400, "body must be an object")
        url, method = data.get("url"), str(data.get("method", "POST")).upper()
        due = data.get("due_in_s")
        if not isinstance(url, str) or not url.startswith(allowed):
            return json_error(400, "url must point at one of the mesh's admin APIs", field="url")
        if method not in METHODS:
            return json_error(400, f"method must be one of {', '.join(METHODS)}", field="method")
        if not isinstance(due, int | float) or isinstance(due, bool) or not 0 <= due < MAX_TTL_S:
            return json_error(400, "due_in_s must be a number of seconds", field="due_in_s")
        payload = data.get("body")
        headers = data.get("headers") or {}
        if not isinstance(headers, dict):
            return json_error(400, "headers must be an object", field="headers")

        async def call() -> None:
            timeout = aiohttp.ClientTimeout(total=5)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.request(
                    method, url, json=payload, headers={str(k): str(v) for k, v in headers.items()}
                ) as response:
                    if response.status >= 400 and response.status != 404:
                        raise RuntimeError(f"{method} {url}: HTTP {response.status}")

        description = str(data.get("description") or f"{method} {url}")
        job = supervisor.janitor.schedule(float(due), description, call)
        return web.json_response(job.to_dict(), status=201)

    async def janitor_cancel(request: web.Request) -> web.Response:
        if not supervisor.janitor.cancel(request.match_info["id"]):
            return json_error(404, "no such janitor job")
        return web.Response(status=204)

    async def shutdown(request: web.Request) -> web.Response:
        supervisor.shutdown_requested.set()
        return web.json_response({"status": "stopping"})

    async def engine_list(request: web.Request) -> web.Response:
        if engines is None:
            return json_error(404, NO_ENGINES)
        return web.json_response(await engines.describe())

    async def engine_act(request: web.Request) -> web.Response:
        name, action = request.match_info["name"], request.match_info["action"]
        if engines is None:
            return json_error(404, NO_ENGINES)
        checked = _action_and_ttl(request, ENGINE_ACTIONS)
        if isinstance(checked, web.Response):
            return checked
        ttl = checked
        if ttl is not None and action != "drain":
            return json_error(400, "only a drain takes a ttl (it reverts to active)", field="ttl")
        try:
            body = await engines.act(name, action)
        except NoSuchEngine as exc:
            return json_error(404, str(exc))
        except EngineRefused as exc:
            return json_error(409, f"{action} {name}: {exc}")
        except Exception as exc:  # the engine API said no, or did not answer
            return json_error(502, f"{action} {name}: the engine API: {exc}")
        if ttl is not None and action == "drain":

            async def undo() -> None:
                await engines.act(name, "activate")

            body["revert"] = supervisor.janitor.schedule(ttl, f"activate {name}", undo).to_dict()
        return web.json_response(body)

    app = web.Application(middlewares=[browser_guard(), json_errors])
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/nodes", nodes)
    app.router.add_post("/nodes/{name}/{action}", act)
    app.router.add_get("/janitor", janitor_list)
    app.router.add_post("/janitor", janitor_add)
    app.router.add_delete("/janitor/{id}", janitor_cancel)
    app.router.add_post("/shutdown", shutdown)
    app.router.add_get("/engines", engine_list)
    app.router.add_post("/engines/{name}/{action}", engine_act)
    return openapi.serve(app, document())


def document() -> dict[str, Any]:
    """The API's OpenAPI document, its actions and bounds taken from this module."""
    doc = openapi.load(__package__ or "chaos.mesh")
    action = doc["paths"]["/nodes/{name}/{action}"]["post"]["parameters"][1]["schema"]
    action["enum"] = list(ACTIONS)
    engine = doc["paths"]["/engines/{name}/{action}"]["post"]["parameters"][1]["schema"]
    engine["enum"] = list(ENGINE_ACTIONS)
    schemas = doc["components"]["schemas"]
    schemas["Ttl"]["maximum"] = MAX_TTL_S
    janitor = schemas["Janitor"]["properties"]
    janitor["method"]["enum"] = list(METHODS)
    janitor["due_in_s"]["exclusiveMaximum"] = MAX_TTL_S
    return doc


# -- the client side: what every command calls -------------------------------------


async def fetch_status(
    state: MeshState, session: aiohttp.ClientSession | None = None
) -> list[NodeStatus] | None:
    """Node statuses from the control API, or None when it does not answer; on
    ``session`` (which must carry the admin token) when given."""
    try:
        async with AsyncExitStack() as stack:
            if session is None:
                session = await stack.enter_async_context(state.session(3))
            async with session.get(f"{state.control_url}/nodes") as response:
                response.raise_for_status()
                data: list[dict[str, Any]] = await response.json()
                return [NodeStatus.from_dict(node) for node in data]
    except (aiohttp.ClientError, TimeoutError):
        return None


async def node_action(
    state: MeshState, name: str, action: str, *, ttl_s: float | None = None
) -> dict[str, Any]:
    """``stop`` … ``resume`` one node; with ``ttl_s`` the control API files the undo."""
    query = f"?ttl={float(ttl_s)!r}" if ttl_s is not None else ""
    async with state.session(60) as session:
        async with session.post(f"{state.control_url}/nodes/{name}/{action}{query}") as response:
            try:
                data: dict[str, Any] = await response.json(content_type=None)
            except ValueError:
                data = {"error": f"HTTP {response.status}: {(await response.text())[:200]}"}
            if response.status >= 400:
                raise MeshError(str(data.get("error", data)))
            return data


async def file_revert(
    state: MeshState,
    *,
    due_in_s: float,
    method: str,
    url: str,
    description: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
) -> str:
    """Ask the control API to make this call at the deadline, even if we die; the job id."""
    payload = {
        "due_in_s": due_in_s,
        "method": method,
        "url": url,
        "body": body,
        "headers": {**state.admin_headers, **(headers or {})},
        "description": description,
    }
    async with state.session(5) as session:
        async with session.post(f"{state.control_url}/janitor", json=payload) as response:
            data = await response.json()
            if response.status >= 400:
                raise MeshError(f"the mesh refused the revert: {data.get('error', data)}")
            return str(data["id"])


async def cancel_revert(state: MeshState, job: str | None) -> None:
    """Drop a filed revert once done by hand; gone already (it ran) is fine."""
    if not job:
        return
    async with state.session(5) as session:
        async with session.delete(f"{state.control_url}/janitor/{job}"):
            pass
