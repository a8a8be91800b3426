"""Key/value writes: idempotent replays, and bad input refused with the field named."""

from __future__ import annotations

import pytest

WRITES_APPLIED = ("fallacies_api_writes_total", {"source": "client", "outcome": "applied"})


async def test_write_then_read(harness):
    put = await harness.api.call("PUT", "/kv/colour", json_body={"value": {"name": "teal"}})
    assert put.status == 200
    doc = put.json()
    assert doc["value"] == {"name": "teal"}
    assert doc["applied"] is True
    assert doc["version"] == {"ts": harness.clock.now, "origin": "api-1"}
    got = await harness.api.call("GET", "/kv/colour")
    assert got.json()["value"] == {"name": "teal"}


async def test_missing_key_is_404(harness):
    reply = await harness.api.call("GET", "/kv/nothing")
    assert reply.status == 404
    assert reply.json()["reason"] == "NoSuchKey"


async def test_same_idempotency_key_twice_is_applied_once_and_replayed(harness):
    headers = {"Idempotency-Key": "order-42"}
    first = await harness.api.call("PUT", "/kv/n", json_body={"value": 1}, headers=headers)
    harness.clock.advance(1.0)
    second = await harness.api.call("PUT", "/kv/n", json_body={"value": 1}, headers=headers)
    assert first.status == second.status == 200
    assert second.body == first.body
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert harness.sample(*WRITES_APPLIED) == 1
    assert harness.sample("fallacies_api_idempotent_replays_total") == 1
    stored = (await harness.api.call("GET", "/kv/n")).json()
    assert stored["version"] == first.json()["version"]


async def test_without_idempotency_key_a_retry_writes_twice(harness):
    for _ in range(2):
        await harness.api.call("PUT", "/kv/n", json_body={"value": 1})
        harness.clock.advance(0.5)
    assert harness.sample(*WRITES_APPLIED) == 2
    assert harness.sample("fallacies_api_idempotent_replays_total") == 0


async def test_reusing_an_idempotency_key_for_another_request_is_422(harness):
    headers = {"Idempotency-Key": "k"}
    await harness.api.call("PUT", "/kv/n", json_body={"value": 1}, headers=headers)
    reply = await harness.api.call("PUT", "/kv/n", json_body={"value": 2}, headers=headers)
    assert reply.status == 422
    assert reply.json()["reason"] == "IdempotencyKeyReused"
    assert reply.json()["field"] == "Idempotency-Key"


async def test_last_write_wins_on_one_replica(harness):
    await harness.api.call("PUT", "/kv/n", json_body={"value": 1})
    harness.clock.advance(0.001)
    await harness.api.call("PUT", "/kv/n", json_body={"value": 2})
    assert (await harness.api.call("GET", "/kv/n")).json()["value"] == 2


async def test_a_write_older_than_the_stored_version_is_stale(harness):
    """A replica whose clock went backwards loses to its own earlier write: LWW, visible."""
    await harness.api.call("PUT", "/kv/n", json_body={"value": 1})
    harness.clock.advance(-1.0)
    reply = await harness.api.call("PUT", "/kv/n", json_body={"value": 2})
    assert reply.status == 200
    assert reply.json()["applied"] is False
    assert reply.json()["value"] == 1
    assert (
        harness.sample("fallacies_api_writes_total", {"source": "client", "outcome": "stale"}) == 1
    )


async def test_list_has_every_key_and_a_digest(harness):
    for key in ("b", "a"):
        await harness.api.call("PUT", f"/kv/{key}", json_body={"value": key})
    doc = (await harness.api.call("GET", "/kv")).json()
    assert doc["count"] == 2
    assert list(doc["items"]) == ["a", "b"]
    assert len(doc["digest"]) == 64


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"", "body"),
        (b"[1, 2]", "body"),
        (b'"value"', "body"),
        (b"{}", "value"),
        (b'{"valeu": 1}', "valeu"),
        (b"\xff\xfe", "body"),
    ],
)
async def test_bad_bodies_are_400_naming_the_field(harness, body, field):
    reply = await harness.api.call("PUT", "/kv/n", body=body)
    assert reply.status == 400, reply.body
    doc = reply.json()
    assert doc["status"] == 400
    assert doc["field"] == field
    assert doc["reason"] == "InvalidField"
    assert doc["error"]
    assert harness.sample("fallacies_api_rejects_total", {"reason": "InvalidField"}) == 1


async def test_a_null_value_is_a_value(harness):
    assert (await harness.api.call("PUT", "/kv/n", json_body={"value": None})).status == 200


async def test_oversize_body_is_413_naming_the_body(make_harness):
    h = await make_harness(client_max_size=1024)
    reply = await h.api.call("PUT", "/kv/n", json_body={"value": "x" * 2048})
    assert reply.status == 413
    assert reply.json()["field"] == "body"
    assert reply.json()["max_bytes"] == 1024
    assert h.sample("fallacies_api_rejects_total", {"reason": "BodyTooLarge"}) == 1
    assert (await h.api.call("GET", "/kv/n")).status == 404


async def test_bad_idempotency_key_is_400(harness):
    reply = await harness.api.call(
        "PUT", "/kv/n", json_body={"value": 1}, headers={"Idempotency-Key": "x" * 300}
    )
    assert (reply.status, reply.json()["field"]) == (400, "Idempotency-Key")


async def test_overlong_key_is_400(harness):
    reply = await harness.api.call("PUT", "/kv/" + "k" * 300, json_body={"value": 1})
    assert (reply.status, reply.json()["field"]) == (400, "key")


async def test_metrics_label_routes_by_template_not_by_key(harness):
    await harness.api.call("PUT", "/kv/secret-customer-key", json_body={"value": 1})
    text = (await harness.api.call("GET", "/metrics", sign=False)).body.decode()
    assert "secret-customer-key" not in text
    labels = {"route": "/kv/{key}", "method": "PUT", "status": "200"}
    assert harness.sample("fallacies_api_requests_total", labels) == 1
    assert harness.sample("fallacies_api_response_bytes_total", {"route": "/kv/{key}"}) > 0
    assert (
        harness.sample("fallacies_api_request_duration_seconds_count", {"route": "/kv/{key}"}) == 1
    )
