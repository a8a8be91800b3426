"""Replica-to-replica endpoints: receive replicated writes, publish the per-key digest.

Signed with the same request keys as clients use, so a rotated key that only one
replica knows also stalls replication — visibly, in the queue depth.
"""

from __future__ import annotations

from aiohttp import web

from services.api.idempotency import StoredResponse
from services.api.routes._io import json_response, parse_object
from services.api.routes.kv import write_result
from services.api.state import state_of
from services.api.store import Entry
from services.common.errors import FieldError

routes = web.RouteTableDef()


@routes.post("/internal/replicate")
async def replicate(request: web.Request) -> web.Response:
    """Apply a batch last-writer-wins; remember the writes' idempotency keys here too.

    Recording the origin's idempotency key lets a client that fails over to this
    replica retry its write and get the original answer instead of a duplicate —
    as long as replication got there first.
    """
    state = state_of(request)
    doc = parse_object(await request.read(), allowed=("origin", "entries"))
    raw_entries = doc.get("entries")
    if not isinstance(raw_entries, list):
        raise FieldError("entries", "expected a list of entries")
    entries = [Entry.from_wire(raw, i) for i, raw in enumerate(raw_entries)]
    applied = 0
    for entry in entries:
        kept = state.store.apply(entry)
        applied += kept
        state.metrics.writes.labels("replication", "applied" if kept else "stale").inc()
        tag = entry.idempotency
        if tag is not None and state.idempotency.get(tag.key) is None:
            state.idempotency.put(
                tag.key, StoredResponse(200, write_result(entry, True), tag.fingerprint)
            )
    state.metrics.kv_keys.set(len(state.store))
    return json_response({"applied": applied, "stale": len(entries) - applied})


@routes.get("/internal/digest")
async def digest(request: web.Request) -> web.Response:
    """Key -> [ts, origin, hash]: enough for a peer to tell who is behind on which key."""
    state = state_of(request)
    keys = {k: [ts, origin, h] for k, (ts, origin, h) in state.store.digest().items()}
    return json_response(
        {
            "replica": state.config.replica_id,
            "root": state.store.root_digest(),
            "count": len(keys),
            "keys": keys,
        }
    )
