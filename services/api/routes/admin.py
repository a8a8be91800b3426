"""The admin API, on its own loopback listener: key rotation and catalog versions.

These are the "other administrator" of fallacy 6: the chaos runner rotates a key
under running clients, or bumps the catalog so every ETag changes. Separate from
the public listener so faults on the api links never get in the operator's way.
"""

from __future__ import annotations

import asyncio
import re
from typing import cast

from aiohttp import web

from services.api.catalog import Catalog
from services.api.keys import Use
from services.api.middleware import SIGNING_KEY
from services.api.routes._io import is_number, json_response, read_object
from services.api.state import state_of
from services.common.errors import FieldError

routes = web.RouteTableDef()
KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""What a chosen key id may be: it travels in a response header."""

MIN_SECRET_LENGTH = 16


@routes.get("/admin/keys")
async def list_keys(request: web.Request) -> web.Response:
    state = state_of(request)
    now = state.clock()
    return json_response({"keys": [k.describe(now, with_secret=True) for k in state.keys.all()]})


@routes.post("/admin/keys/rotate")
async def rotate_key(request: web.Request) -> web.Response:
    """``{"use"?, "grace_s"?, "kid"?, "secret"?}``; an empty body rotates the request key.

    The answer is signed with the response key in force *before* the rotation: the
    operator can verify it with the key it already has.
    """
    state = state_of(request)
    doc = await read_object(request, allowed=("use", "grace_s", "kid", "secret"), empty_ok=True)
    use = doc.get("use", "request")
    if use not in ("request", "response"):
        raise FieldError("use", "expected 'request' or 'response'")
    grace_s = doc.get("grace_s", state.config.key_grace_s)
    if not is_number(grace_s) or grace_s < 0:
        raise FieldError("grace_s", "expected a number of seconds >= 0")
    kid, secret = doc.get("kid"), doc.get("secret")
    if kid is not None and (
        not isinstance(kid, str) or not KEY_ID.fullmatch(kid) or kid == "bootstrap"
    ):
        # A key id goes out in a header on every signed answer: a newline in one would
        # make every later answer unsendable.
        raise FieldError("kid", "expected 1-64 of A-Z a-z 0-9 . _ - other than 'bootstrap'")
    if secret is not None and (not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH):
        raise FieldError("secret", f"expected a string of at least {MIN_SECRET_LENGTH} characters")
    now = state.clock()
    previous = state.keys.signing_key("response", now)
    try:
        new, retiring = state.keys.rotate(
            cast(Use, use), now, grace_s=float(grace_s), kid=kid, secret=secret
        )
    except ValueError as exc:
        raise FieldError("kid", str(exc)) from None
    state.metrics.key_rotations.labels(use).inc()
    response = json_response(
        {
            "kid": new.kid,
            "secret": new.secret,
            "use": new.use,
            "not_before": new.not_before,
            "retiring": [{"kid": k.kid, "not_after": k.not_after} for k in retiring],
        }
    )
    response[SIGNING_KEY] = (previous.kid, previous.secret)
    return response


@routes.get("/admin/catalog")
async def get_catalog_version(request: web.Request) -> web.Response:
    """The catalog being served, so whoever bumps it can put it back."""
    catalog = state_of(request).catalog
    return json_response(
        {
            "version": catalog.version,
            "etag": catalog.full.etag,
            "bytes": len(catalog.full.identity),
            "gzip_bytes": len(catalog.full.gzipped),
        }
    )


@routes.post("/admin/catalog")
async def set_catalog_version(request: web.Request) -> web.Response:
    """``{"version": n}``: rebuild the catalog (off the event loop) so every ETag changes."""
    state = state_of(request)
    doc = await read_object(request, allowed=("version",))
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise FieldError("version", "expected an integer >= 1")
    config = state.config
    catalog = await asyncio.to_thread(
        Catalog.build,
        config.catalog_items,
        seed=config.catalog_seed,
        version=version,
        gzip_level=config.gzip_level,
        warm_per_page=config.catalog_per_page,
    )
    state.set_catalog(catalog)
    return json_response(
        {
            "version": catalog.version,
            "etag": catalog.full.etag,
            "bytes": len(catalog.full.identity),
            "gzip_bytes": len(catalog.full.gzipped),
            "build_seconds": catalog.build_seconds,
        }
    )


@routes.get("/healthz")
async def admin_healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "replica": state_of(request).config.replica_id})
