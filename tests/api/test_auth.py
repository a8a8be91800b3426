"""Request signing enforced by the replica, and every response signed."""

from __future__ import annotations

import time

import pytest

from services.api.signing import SignatureError, sign_request, verify_response


async def test_a_good_signature_passes_and_the_response_verifies(harness):
    reply = await harness.api.call("PUT", "/kv/a", json_body={"value": 1})
    assert reply.status == 200
    assert reply.headers["X-Fallacies-Replica"] == "api-1"
    assert reply.headers["X-Fallacies-Response-Key-Id"] == "resp-1"


async def test_tampered_response_body_fails_verification(harness):
    reply = await harness.api.call("PUT", "/kv/a", json_body={"value": 1})
    forged = reply.body.replace(b"1", b"2")
    with pytest.raises(SignatureError, match="SignatureDoesNotMatch"):
        verify_response("PUT", "/kv/a", 200, forged, reply.headers, harness.api.response_keys)


async def test_unsigned_request_is_401(harness):
    reply = await harness.api.call("GET", "/kv/a", sign=False)
    assert reply.status == 401
    assert reply.json()["reason"] == "MissingSignature"


async def test_unknown_key_is_401_invalid_key_id(harness):
    harness.api.key_id = "stolen"
    reply = await harness.api.call("GET", "/kv/a")
    assert reply.status == 401
    assert reply.json() == {
        "error": "unknown or retired key id",
        "status": 401,
        "reason": "InvalidKeyId",
        "key_id": "stolen",
    }
    assert harness.sample("fallacies_api_rejects_total", {"reason": "InvalidKeyId"}) == 1


async def test_wrong_secret_is_401_signature_does_not_match(harness):
    harness.api.secret = "not-the-secret"
    reply = await harness.api.call("GET", "/kv/a")
    assert (reply.status, reply.json()["reason"]) == (401, "SignatureDoesNotMatch")


@pytest.mark.parametrize("skew", [6.0, -6.0])
async def test_client_clock_6s_away_is_403_request_time_too_skewed(harness, skew):
    harness.api.clock = lambda: harness.clock.now + skew
    reply = await harness.api.call("GET", "/kv/a")
    assert reply.status == 403
    doc = reply.json()
    assert doc["reason"] == "RequestTimeTooSkewed"
    assert doc["server_time"] == harness.clock.now
    assert doc["request_time"] == pytest.approx(harness.clock.now + skew, abs=1e-3)
    assert doc["max_skew_s"] == 5.0
    assert harness.sample("fallacies_api_rejects_total", {"reason": "RequestTimeTooSkewed"}) == 1


async def test_replica_clock_skewed_ahead_refuses_clients_on_real_time(make_harness):
    h = await make_harness()
    h.api.clock = time.time
    h.clock.now = time.time() + 6.0
    reply = await h.api.call("GET", "/kv/a")
    assert (reply.status, reply.json()["reason"]) == (403, "RequestTimeTooSkewed")


async def test_skew_within_the_window_passes(harness):
    harness.api.clock = lambda: harness.clock.now - 4.5
    assert (await harness.api.call("GET", "/kv/missing")).status == 404


async def test_bootstrap_routes_need_no_signature(harness):
    for path in ("/healthz", "/metrics", "/.well-known/keys"):
        reply = await harness.api.call("GET", path, sign=False)
        assert reply.status == 200, path


async def test_unknown_route_is_a_signed_json_404(harness):
    reply = await harness.api.call("GET", "/nope", sign=False)
    assert reply.status == 404
    assert reply.json()["status"] == 404


async def test_wrong_method_is_405_with_allow(harness):
    reply = await harness.api.call("DELETE", "/catalog", sign=False)
    assert reply.status == 405
    assert "GET" in reply.headers["Allow"]


async def test_query_string_is_signed(harness):
    reply = await harness.api.call("GET", "/catalog?page=2&per_page=5")
    assert reply.status == 200
    headers = sign_request(
        "GET", "/catalog?page=1&per_page=5", None, "dev-1", harness.api.secret, harness.clock()
    )
    reply = await harness.api.call("GET", "/catalog?page=2&per_page=5", sign=False, headers=headers)
    assert (reply.status, reply.json()["reason"]) == (401, "SignatureDoesNotMatch")
