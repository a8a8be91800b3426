"""Key/value reads and idempotent writes.

A write is stamped with this replica's clock and id, applied last-writer-wins, and
queued for the peers. With an ``Idempotency-Key`` the response is remembered, and
a retry of the same request gets the same bytes back (``Idempotent-Replayed: true``)
without a second write.
"""

from __future__ import annotations

from aiohttp import web

from services.api._types import JSONObject
from services.api.encoding import dumps
from services.api.errors import IDEMPOTENCY_KEY_REUSED, ApiError
from services.api.headers import IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED
from services.api.idempotency import StoredResponse, fingerprint, valid_idempotency_key
from services.api.routes._io import json_response, parse_object
from services.api.state import state_of
from services.api.store import MAX_KEY_LENGTH, Entry, IdempotencyTag, valid_key
from services.common.errors import FieldError
from services.common.http import json_error

routes = web.RouteTableDef()


def entry_view(entry: Entry) -> JSONObject:
    return {
        "key": entry.key,
        "value": entry.value,
        "version": {"ts": entry.ts, "origin": entry.origin},
    }


def write_result(entry: Entry, applied: bool) -> bytes:
    """The body of a write's answer; a peer rebuilds the same bytes from a replicated entry."""
    return dumps({**entry_view(entry), "applied": applied})


def _key(request: web.Request) -> str:
    key = request.match_info["key"]
    if not valid_key(key):
        raise FieldError("key", f"must be 1..{MAX_KEY_LENGTH} characters")
    return key


def _replay(stored: StoredResponse) -> web.Response:
    response = web.Response(body=stored.body, status=stored.status, content_type="application/json")
    response.headers[IDEMPOTENT_REPLAYED] = "true"
    return response


@routes.put("/kv/{key}")
async def put_value(request: web.Request) -> web.Response:
    state = state_of(request)
    key = _key(request)
    body = await request.read()
    tag: IdempotencyTag | None = None
    idempotency_key = request.headers.get(IDEMPOTENCY_KEY)
    if idempotency_key is not None:
        if not valid_idempotency_key(idempotency_key):
            raise FieldError(IDEMPOTENCY_KEY, "must be 1..255 printable characters")
        tag = IdempotencyTag(idempotency_key, fingerprint(request.method, request.raw_path, body))
        stored = state.idempotency.get(idempotency_key)
        if stored is not None:
            if stored.fingerprint != tag.fingerprint:
                raise ApiError(
                    422,
                    IDEMPOTENCY_KEY_REUSED,
                    "this Idempotency-Key was used for a different request",
                    field=IDEMPOTENCY_KEY,
                )
            state.metrics.idempotent_replays.inc()
            return _replay(stored)
    doc = parse_object(body, allowed=("value",))
    if "value" not in doc:
        raise FieldError("value", "is required")
    entry = Entry(key, doc["value"], state.clock(), state.config.replica_id, tag)
    applied = state.store.apply(entry)
    state.metrics.writes.labels("client", "applied" if applied else "stale").inc()
    current = state.store.get(key) or entry
    result = write_result(current, applied)
    if tag is not None:
        state.idempotency.put(tag.key, StoredResponse(200, result, tag.fingerprint))
    if applied:
        state.metrics.kv_keys.set(len(state.store))
        state.replicator.replicate(entry)
    return web.Response(body=result, content_type="application/json")


@routes.get("/kv/{key}")
async def get_value(request: web.Request) -> web.Response:
    entry = state_of(request).store.get(_key(request))
    if entry is None:
        return json_error(404, "no such key", reason="NoSuchKey")
    return json_response(entry_view(entry))


@routes.get("/kv")
async def list_values(request: web.Request) -> web.Response:
    """A snapshot with the store's root digest: equal digests mean the replicas agree."""
    state = state_of(request)
    entries = sorted(state.store.entries(), key=lambda e: e.key)
    return json_response(
        {
            "replica": state.config.replica_id,
            "count": len(entries),
            "digest": state.store.root_digest(),
            "items": {
                e.key: {"value": e.value, "version": {"ts": e.ts, "origin": e.origin}}
                for e in entries
            },
        }
    )
