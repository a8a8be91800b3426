"""aiohttp helpers for the admin APIs: binding with a clear error, and one JSON error shape."""

from __future__ import annotations

import errno
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from services.common.errors import FieldError, PortInUseError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    """Toxiproxy's error body, ``{error, status}``, used by every admin API in the mesh."""
    return web.json_response({"error": message, "status": status, **extra}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error answer of an admin API in that one shape: a bad field names itself
    (400), aiohttp's own errors keep their status (and a 405's ``Allow``)."""
    try:
        return await handler(request)
    except FieldError as exc:
        return json_error(400, str(exc), field=exc.field)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = json_error(exc.status, exc.reason)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response


def bind_error(what: str, host: str, port: int, exc: OSError) -> PortInUseError:
    reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
    return PortInUseError(what, host, port, reason)


async def start_site(
    app: web.Application, host: str, port: int, *, what: str = "admin API"
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on host:port and return the runner and the port actually bound."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise bind_error(what, host, port, exc) from exc
    server = site._server
    bound = port
    if server is not None:
        sockets: list[socket.socket] = list(getattr(server, "sockets", []) or [])
        if sockets:
            bound = int(sockets[0].getsockname()[1])
    return runner, bound
