"""Keep web pages away from the admin APIs, token or not.

With no token (the embedded mesh on loopback) a page a participant opens could
otherwise change the mesh: a cross-origin ``text/plain`` POST needs no CORS
preflight, and DNS rebinding points a name the page controls at 127.0.0.1 so that
every method is same-origin. So, on every admin, fault and control API:

- the ``Host`` header, when there is one, must name this machine's loopback or an
  IP address (a rebinding attack needs a host *name*), or a name in
  ``$FALLACIES_ALLOWED_HOSTS`` (a browser always sends one);
- a state change (any method but GET, HEAD, OPTIONS) is refused when a browser says
  it comes from elsewhere (``Origin`` not this API's own, ``Sec-Fetch-Site`` cross-site
  or same-site), and when its body is one a form or a simple request can send
  (form-urlencoded, multipart, text/plain): the mesh's own clients send JSON.

The fault proxy keeps Toxiproxy's ``Mozilla/*`` user-agent guard and takes simple
bodies (``simple_bodies=True``): Toxiproxy's own clients and API tests post JSON as
``text/plain``, and a browser's cross-origin POST still carries ``Origin`` and
``Sec-Fetch-Site``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Final
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from services.common.http import json_error

__all__ = [
    "ALLOWED_HOSTS_ENV",
    "browser_guard",
    "browser_refusal",
    "foreign_page",
    "host_allowed",
    "is_guarded",
]

ALLOWED_HOSTS_ENV: Final = "FALLACIES_ALLOWED_HOSTS"
"""Comma-separated host names besides loopback and IP addresses (container names, say)."""
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
SIMPLE_TYPES: Final = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _hostname(authority: str) -> str:
    """``host`` of ``host:port`` / ``[v6]:port``, lower case; empty when unparsable."""
    try:
        return (urlsplit(f"//{authority}").hostname or "").lower()
    except ValueError:
        return ""


def host_allowed(authority: str, extra: frozenset[str] = frozenset()) -> bool:
    host = _hostname(authority)
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost") or host in extra:
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def allowed_from_env(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    raw = (environ if environ is not None else os.environ).get(ALLOWED_HOSTS_ENV, "")
    return frozenset(name.strip().lower() for name in raw.split(",") if name.strip())


def browser_refusal(
    method: str,
    headers: Mapping[str, str],
    extra: frozenset[str] = frozenset(),
    *,
    simple_bodies: bool = False,
) -> str | None:
    """Why a request that a browser may have sent must not pass; ``None`` when it may."""
    host = headers.get("Host")
    # No Host at all is an HTTP/1.0 client (the containers' healthchecks), never a browser.
    if host is not None and not host_allowed(host, extra):
        return f"Host {host!r} is not this machine (set {ALLOWED_HOSTS_ENV} to allow a name)"
    if method.upper() in SAFE_METHODS:
        return None
    foreign = foreign_page(headers)
    if foreign is not None:
        return foreign
    content_type = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if content_type in SIMPLE_TYPES and not simple_bodies:
        return f"a change sent as {content_type} is refused: send application/json"
    return None


def foreign_page(headers: Mapping[str, str]) -> str | None:
    """Why the request comes from another site's page (``Origin`` not this API's own
    ``Host``, or ``Sec-Fetch-Site`` says so); ``None`` when it does not.

    A change is refused then; so is a WebSocket, which no CORS rule protects: any
    page may open one to any address and read what it says.
    """
    host = headers.get("Host") or ""
    origin = headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
        return f"a change from the web page at {origin!r} is refused"
    if headers.get("Sec-Fetch-Site", "").lower() in ("cross-site", "same-site"):
        return "a change from another site is refused"
    return None


def browser_guard(*, simple_bodies: bool = False) -> Middleware:
    """The guard as an aiohttp middleware (``simple_bodies``: see the module docstring);
    ``$FALLACIES_ALLOWED_HOSTS`` is read once, when the app is built."""
    extra = allowed_from_env()

    @web.middleware
    async def browser_guard_middleware(
        request: web.Request, handler: _Handler
    ) -> web.StreamResponse:
        refused = browser_refusal(
            request.method, request.headers, extra, simple_bodies=simple_bodies
        )
        if refused is not None:
            return json_error(403, refused)
        return await handler(request)

    return browser_guard_middleware


def is_guarded(app: web.Application) -> bool:
    return any(getattr(m, "__name__", "") == "browser_guard_middleware" for m in app.middlewares)
