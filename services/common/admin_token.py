"""One admin token for every admin and fault API of the mesh.

An admin API bound to loopback on a machine of one's own may stay open (the embedded
mesh). One that others can reach — a container's admin port, published on the host —
must not: with a token configured every request needs it in ``X-Fallacies-Admin-Token``,
and with none configured such an API is *locked* rather than open, so forgetting the
token fails safe. Health, version, metrics and the OpenAPI document stay readable for
healthchecks and Prometheus.

The token comes from the node's config or, winning over it, ``$FALLACIES_ADMIN_TOKEN``
(how the containers get theirs without writing it into a file).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from aiohttp import web

from services.common.browser_guard import browser_guard, is_guarded
from services.common.http import json_error

__all__ = [
    "ENV",
    "HEADER",
    "OPEN_PATHS",
    "from_env",
    "token_from_env",
    "is_loopback",
    "protect",
    "refusal",
]

HEADER: Final = "X-Fallacies-Admin-Token"
ENV: Final = "FALLACIES_ADMIN_TOKEN"
PATH_OPENAPI: Final = "/openapi.json"
OPEN_PATHS: Final = frozenset({"/healthz", "/metrics", "/version", PATH_OPENAPI})
"""Read with GET or HEAD without a token: healthchecks, Toxiproxy's probe, scrapes."""

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def token_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """``$FALLACIES_ADMIN_TOKEN``, or None when unset or empty."""
    return (os.environ if environ is None else environ).get(ENV) or None


def from_env(config: dict[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``config`` with ``admin_token`` taken from ``$FALLACIES_ADMIN_TOKEN`` when that is set."""
    token = token_from_env(environ)
    return {**config, "admin_token": token} if token else config


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(
    method: str,
    path: str,
    headers: Mapping[str, str],
    *,
    token: str | None,
    host: str,
    open_paths: frozenset[str] = OPEN_PATHS,
) -> tuple[int, str] | None:
    """Why a request may not pass, as (status, message); ``None`` when it may."""
    if method in ("GET", "HEAD") and path in open_paths:
        return None
    if token is None:
        if is_loopback(host):
            return None
        return (
            403,
            f"this admin API is locked: it listens on {host} and has no admin token "
            f"(start the node with {ENV} set)",
        )
    given = headers.get(HEADER, "")
    if not hmac.compare_digest(given.encode(), token.encode()):
        return 401, f"a valid {HEADER} header is required"
    return None


def protect(
    app: web.Application,
    *,
    token: str | None,
    host: str,
    open_paths: frozenset[str] = OPEN_PATHS,
    simple_bodies: bool = False,
) -> web.Application:
    """Put the browser guard and the token check in front of every other middleware
    (``simple_bodies``: the fault proxy's Toxiproxy clients, see ``browser_guard``)."""

    @web.middleware
    async def admin_token(request: web.Request, handler: _Handler) -> web.StreamResponse:
        refused = refusal(
            request.method,
            request.path,
            request.headers,
            token=token,
            host=host,
            open_paths=open_paths,
        )
        if refused is not None:
            return json_error(*refused)
        return await handler(request)

    app.middlewares.insert(0, admin_token)
    if not is_guarded(app):
        app.middlewares.insert(0, browser_guard(simple_bodies=simple_bodies))
    return app
