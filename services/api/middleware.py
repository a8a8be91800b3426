"""The request pipeline around every handler, outermost first::

    metrics ─> compression ─> response signing ─> errors ─> request auth ─> handler

Order matters: errors are rendered before signing so refusals are signed too;
signing sees the body before gzip (what a client reads after decoding); metrics
sees the bytes that actually leave.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from services.api.encoding import accepts_gzip, gzip_bytes
from services.api.errors import (
    ADMIN_LOCKED,
    BODY_TOO_LARGE,
    INVALID_ADMIN_TOKEN,
    INVALID_FIELD,
    ApiError,
)
from services.api.headers import REPLICA
from services.api.signing import SignatureError, body_sha256, sign_response, verify_request
from services.api.state import state_of
from services.common.admin_token import PATH_OPENAPI, refusal
from services.common.browser_guard import browser_guard
from services.common.errors import FieldError
from services.common.http import json_error

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

IDENTITY_SHA256: web.ResponseKey[str] = web.ResponseKey("identity_sha256", str)
"""Set by a handler that sends precompressed bytes: the hash of the decoded body to sign."""
SIGNING_KEY: web.ResponseKey[tuple[str, str]] = web.ResponseKey("signing_key", tuple)
"""Set by a handler to sign with another (kid, secret), e.g. the bootstrap token."""

UNSIGNED_ROUTES = frozenset({"/healthz", "/metrics", "/.well-known/keys", PATH_OPENAPI})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
UNMATCHED = "unmatched"


def route_of(request: web.Request) -> str:
    """The route template (bounded label); ``unmatched`` for 404/405."""
    info = request.match_info
    if info.http_exception is not None:
        return UNMATCHED
    resource = info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def _body(response: web.StreamResponse) -> bytes:
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        return response.body
    return b""


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response = await handler(request)
    metrics = state_of(request).metrics
    route = route_of(request)
    method = request.method if request.method in _METHODS else "other"
    metrics.requests.labels(route, method, str(response.status)).inc()
    metrics.duration.labels(route).observe(time.perf_counter() - started)
    metrics.response_bytes.labels(route).inc(len(_body(response)))
    return response


@web.middleware
async def compression_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """gzip dynamic bodies when asked; precompressed ones already carry Content-Encoding."""
    response = await handler(request)
    body = _body(response)
    config = state_of(request).config
    if (
        isinstance(response, web.Response)
        and len(body) >= config.gzip_min_bytes
        and hdrs.CONTENT_ENCODING not in response.headers
    ):
        response.headers[hdrs.VARY] = hdrs.ACCEPT_ENCODING
        if accepts_gzip(request.headers.get(hdrs.ACCEPT_ENCODING)):
            response.body = gzip_bytes(body, config.gzip_level)
            response.headers[hdrs.CONTENT_ENCODING] = "gzip"
    return response


@web.middleware
async def signing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sign every response, refusals included, so a client can tell a forged one."""
    response = await handler(request)
    state = state_of(request)
    now = state.clock()
    override = response.get(SIGNING_KEY)
    if override is not None:
        kid, secret = override
    else:
        key = state.keys.signing_key("response", now)
        kid, secret = key.kid, key.secret
    digest = response.get(IDENTITY_SHA256) or body_sha256(_body(response))
    response.headers.update(
        sign_response(
            request.method,
            request.raw_path,
            response.status,
            None,
            kid,
            secret,
            now,
            digest=digest,
        )
    )
    response.headers[REPLICA] = state.config.replica_id
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into the mesh's ``{error, status}`` body; count refusals."""
    try:
        return await handler(request)
    except ApiError as exc:
        return _refuse(request, exc)
    except FieldError as exc:
        return _refuse(request, ApiError(400, INVALID_FIELD, str(exc), field=exc.field))
    except web.HTTPRequestEntityTooLarge:
        limit = state_of(request).config.client_max_size
        return _refuse(
            request,
            ApiError(
                413,
                BODY_TOO_LARGE,
                f"the body is larger than {limit} bytes",
                field="body",
                max_bytes=limit,
            ),
        )
    except web.HTTPException as exc:
        response = json_error(exc.status, exc.reason)
        if hdrs.ALLOW in exc.headers:
            response.headers[hdrs.ALLOW] = exc.headers[hdrs.ALLOW]
        return response
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal error", reason="InternalError")


def _refuse(request: web.Request, exc: ApiError) -> web.Response:
    state_of(request).metrics.rejects.labels(exc.reason).inc()
    return json_error(exc.status, exc.message, **exc.body_fields())


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Verify the request signature on every route except the bootstrap ones."""
    route = route_of(request)
    if route == UNMATCHED or route in UNSIGNED_ROUTES:
        return await handler(request)
    state = state_of(request)
    body = await request.read()
    now = state.clock()
    try:
        verify_request(
            request.method,
            request.raw_path,
            body,
            request.headers,
            state.keys.secrets("request", now),
            now=now,
            max_skew_s=state.config.max_skew_s,
        )
    except SignatureError as exc:
        raise ApiError(exc.status, exc.reason, exc.message, **exc.detail) from None
    return await handler(request)


@web.middleware
async def admin_token_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The admin API wants the admin token on all but /healthz (see services.common.admin_token)."""
    config = state_of(request).config
    route = route_of(request)
    if route != UNMATCHED:
        refused = refusal(
            request.method,
            route,
            request.headers,
            token=config.admin_token,
            host=config.admin_host,
            open_paths=_ADMIN_OPEN,
        )
        if refused is not None:
            status, message = refused
            raise ApiError(status, INVALID_ADMIN_TOKEN if status == 401 else ADMIN_LOCKED, message)
    return await handler(request)


_ADMIN_OPEN = frozenset({"/healthz", PATH_OPENAPI})


PUBLIC_MIDDLEWARES = [
    metrics_middleware,
    compression_middleware,
    signing_middleware,
    error_middleware,
    auth_middleware,
]
ADMIN_MIDDLEWARES = [
    browser_guard(),
    metrics_middleware,
    compression_middleware,
    signing_middleware,
    error_middleware,
    admin_token_middleware,
]
