"""Key discovery: what a client does after a 401 instead of giving up (fallacy 6).

Anyone may read which key ids are valid (no secrets). A client that presents the
bootstrap token in ``X-Fallacies-Bootstrap-Token`` also gets the secrets — the
scheme is shared-secret HMAC, so verifying needs them — and that answer is signed
with the bootstrap token itself (key id ``bootstrap``), which the client already
trusts, rather than with a response key it is only now learning.
"""

from __future__ import annotations

import hmac

from aiohttp import hdrs, web

from services.api.errors import INVALID_BOOTSTRAP_TOKEN, ApiError
from services.api.headers import BOOTSTRAP_TOKEN
from services.api.middleware import SIGNING_KEY
from services.api.routes._io import json_response
from services.api.state import state_of

routes = web.RouteTableDef()

BOOTSTRAP_KEY_ID = "bootstrap"


@routes.get("/.well-known/keys")
async def discover_keys(request: web.Request) -> web.Response:
    state = state_of(request)
    now = state.clock()
    token = request.headers.get(BOOTSTRAP_TOKEN)
    expected = state.config.bootstrap_token
    if token is not None and (
        expected is None or not hmac.compare_digest(token.encode(), expected.encode())
    ):
        raise ApiError(401, INVALID_BOOTSTRAP_TOKEN, "the bootstrap token is not valid")
    with_secrets = token is not None
    response = json_response(
        {
            "replica": state.config.replica_id,
            "server_time": now,
            "algorithm": "HMAC-SHA256",
            "max_skew_s": state.config.max_skew_s,
            "keys": [k.describe(now, with_secret=with_secrets) for k in state.keys.listed(now)],
        }
    )
    response.headers[hdrs.CACHE_CONTROL] = "no-store"
    if token is not None:
        response[SIGNING_KEY] = (BOOTSTRAP_KEY_ID, token)
    return response
