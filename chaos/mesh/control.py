"""The supervisor's control API (loopback only): node status and node faults.

GET  /healthz
GET  /nodes                         every node's state and health
POST /nodes/{name}/{action}         stop | start | restart | kill | pause | resume
POST /shutdown                      stop the whole mesh
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from services.common.http import json_error

if TYPE_CHECKING:
    from chaos.mesh.supervisor import Supervisor

ACTIONS = ("stop", "start", "restart", "kill", "pause", "resume")


def create_app(supervisor: Supervisor) -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def nodes(request: web.Request) -> web.Response:
        return web.json_response([s.to_dict() for s in await supervisor.status()])

    async def act(request: web.Request) -> web.Response:
        name, action = request.match_info["name"], request.match_info["action"]
        if name not in supervisor.nodes:
            return json_error(404, f"no node named {name!r}")
        if action not in ACTIONS:
            return json_error(400, f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
        proc = supervisor.nodes[name]
        if action in ("stop", "restart"):
            await proc.stop()
        if action == "kill":
            await proc.kill()
        if action == "pause":
            proc.pause()
        if action == "resume":
            proc.resume()
        if action in ("start", "restart"):
            await supervisor.start_node(name)
        return web.json_response({"name": name, "state": proc.state, "pid": proc.pid})

    async def shutdown(request: web.Request) -> web.Response:
        supervisor.shutdown_requested.set()
        return web.json_response({"status": "stopping"})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/nodes", nodes)
    app.router.add_post("/nodes/{name}/{action}", act)
    app.router.add_post("/shutdown", shutdown)
    return app
