"""Key rotation by another administrator, and discovery so a client can recover."""

from __future__ import annotations

from typing import Any

import pytest

from services.api.keys import KeyRing
from tests.api.helpers import ADMIN

BOOTSTRAP = {"X-Fallacies-Bootstrap-Token": "fallacies-bootstrap"}


async def rotate(harness: Any, **body: Any) -> Any:
    reply = await harness.admin_api.call(
        "POST", "/admin/keys/rotate", json_body=body or None, headers=ADMIN, sign=False
    )
    assert reply.status == 200, reply.body
    return reply.json()


async def test_discovery_lists_key_ids_without_secrets(harness):
    doc = (await harness.api.call("GET", "/.well-known/keys", sign=False)).json()
    assert {(k["kid"], k["use"], k["status"]) for k in doc["keys"]} == {
        ("dev-1", "request", "active"),
        ("resp-1", "response", "active"),
    }
    assert all("secret" not in k for k in doc["keys"])
    assert doc["server_time"] == harness.clock.now
    assert doc["max_skew_s"] == 5.0


async def test_bootstrap_token_gets_secrets_signed_with_the_token(harness):
    harness.api.response_keys = {"bootstrap": "fallacies-bootstrap"}
    reply = await harness.api.call("GET", "/.well-known/keys", sign=False, headers=BOOTSTRAP)
    assert reply.headers["X-Fallacies-Response-Key-Id"] == "bootstrap"
    secrets = {k["kid"]: k["secret"] for k in reply.json()["keys"]}
    assert secrets == {
        "dev-1": "fallacies-dev-request-secret",
        "resp-1": "fallacies-dev-response-secret",
    }
    assert reply.headers["Cache-Control"] == "no-store"


async def test_wrong_bootstrap_token_is_401(harness):
    reply = await harness.api.call(
        "GET",
        "/.well-known/keys",
        sign=False,
        headers={"X-Fallacies-Bootstrap-Token": "guess"},
    )
    assert (reply.status, reply.json()["reason"]) == (401, "InvalidBootstrapToken")


async def test_after_rotation_the_old_key_is_401_and_discovery_lists_the_new_one(harness):
    assert (await harness.api.call("GET", "/kv/a")).status == 404
    new = await rotate(harness)
    assert new["retiring"] == [{"kid": "dev-1", "not_after": harness.clock.now}]
    old = await harness.api.call("GET", "/kv/a")
    assert (old.status, old.json()["reason"]) == (401, "InvalidKeyId")

    doc = (await harness.api.call("GET", "/.well-known/keys", sign=False)).json()
    request_kids = [k["kid"] for k in doc["keys"] if k["use"] == "request"]
    assert request_kids == [new["kid"]]

    harness.api.key_id, harness.api.secret = new["kid"], new["secret"]
    assert (await harness.api.call("GET", "/kv/a")).status == 404
    assert harness.sample("fallacies_api_key_rotations_total", {"use": "request"}) == 1


async def test_grace_period_keeps_the_old_key_working_until_it_ends(harness):
    new = await rotate(harness, grace_s=30)
    harness.clock.advance(29)
    assert (await harness.api.call("GET", "/kv/a")).status == 404
    doc = (await harness.api.call("GET", "/.well-known/keys", sign=False)).json()
    status = {k["kid"]: k["status"] for k in doc["keys"]}
    assert status == {"dev-1": "retiring", new["kid"]: "active", "resp-1": "active"}
    harness.clock.advance(2)
    assert (await harness.api.call("GET", "/kv/a")).status == 401


async def test_rotating_with_a_chosen_key_lets_an_operator_install_it_everywhere(harness):
    await rotate(harness, kid="dev-2", secret="a-shared-secret-for-all-replicas")
    harness.api.key_id, harness.api.secret = "dev-2", "a-shared-secret-for-all-replicas"
    assert (await harness.api.call("GET", "/kv/a")).status == 404
    again = await harness.admin_api.call(
        "POST",
        "/admin/keys/rotate",
        json_body={"kid": "dev-2", "secret": "x" * 20},
        headers=ADMIN,
        sign=False,
    )
    assert (again.status, again.json()["field"]) == (400, "kid")


async def test_response_key_rotation_changes_the_signing_key(harness):
    new = await rotate(harness, use="response")
    harness.api.response_keys = {new["kid"]: new["secret"]}
    reply = await harness.api.call("GET", "/healthz", sign=False)
    assert reply.headers["X-Fallacies-Response-Key-Id"] == new["kid"]


async def test_admin_api_wants_the_admin_token(harness):
    for headers in ({}, {"X-Fallacies-Admin-Token": "wrong"}):
        reply = await harness.admin_api.call(
            "POST", "/admin/keys/rotate", headers=headers, sign=False
        )
        assert (reply.status, reply.json()["reason"]) == (401, "InvalidAdminToken")
    assert (await harness.admin_api.call("GET", "/healthz", sign=False)).status == 200
    listed = await harness.admin_api.call("GET", "/admin/keys", headers=ADMIN, sign=False)
    assert {k["kid"] for k in listed.json()["keys"]} == {"dev-1", "resp-1"}


async def test_admin_api_without_a_token_off_loopback_is_locked(make_harness):
    """A replica in a container started with no token: nobody may rotate its keys."""
    harness = await make_harness(admin_host="0.0.0.0", admin_token=None)
    for headers in ({}, ADMIN):
        reply = await harness.admin_api.call("GET", "/admin/keys", headers=headers, sign=False)
        assert (reply.status, reply.json()["reason"]) == (403, "AdminLocked")
        assert "FALLACIES_ADMIN_TOKEN" in reply.json()["error"]
    assert (await harness.admin_api.call("GET", "/healthz", sign=False)).status == 200


async def test_admin_api_without_a_token_on_loopback_is_open(make_harness):
    harness = await make_harness(admin_token=None)
    reply = await harness.admin_api.call("GET", "/admin/keys", sign=False)
    assert reply.status == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"use": "both"}, "use"),
        ({"grace_s": -1}, "grace_s"),
        ({"grace_s": "soon"}, "grace_s"),
        ({"secret": "short"}, "secret"),
        ({"kid": "bootstrap"}, "kid"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_rotation_requests_are_400(harness, body, field):
    reply = await harness.admin_api.call(
        "POST", "/admin/keys/rotate", json_body=body, headers=ADMIN, sign=False
    )
    assert (reply.status, reply.json()["field"]) == (400, field)


async def test_public_listener_has_no_admin_routes(harness):
    reply = await harness.api.call("POST", "/admin/keys/rotate", headers=ADMIN, sign=False)
    assert reply.status == 404


def test_key_ring_signs_with_the_newest_and_verifies_with_all_valid():
    ring = KeyRing.initial({"a": "s-a", "b": "s-b"}, {"r": "s-r"})
    assert ring.signing_key("request", 10).kid == "b"
    new, retiring = ring.rotate("request", 10, grace_s=5)
    assert {k.kid for k in retiring} == {"a", "b"}
    assert ring.signing_key("request", 10).kid == new.kid
    assert set(ring.secrets("request", 14.9)) == {"a", "b", new.kid}
    assert set(ring.secrets("request", 15)) == {new.kid}
    assert set(ring.secrets("response", 15)) == {"r"}


def test_rotating_back_to_a_known_key_reinstates_it():
    ring = KeyRing.initial({"k1": "s-1"}, {"r": "s-r"})
    ring.rotate("request", 10, kid="k2", secret="s-2")
    assert set(ring.secrets("request", 11)) == {"k2"}
    ring.rotate("request", 20, kid="k1", secret="s-1")
    assert set(ring.secrets("request", 21)) == {"k1"}
    assert ring.signing_key("request", 21).kid == "k1"
    with pytest.raises(ValueError, match="already exists"):
        ring.rotate("request", 30, kid="k2", secret="a different secret")


async def test_a_web_page_cannot_rotate_the_keys(harness: Any) -> None:
    before = (await harness.admin_api.call("GET", "/admin/keys", headers=ADMIN, sign=False)).json()
    for extra in (
        {"Content-Type": "text/plain", "Origin": "http://evil.example"},
        {"Host": "rebound.evil.example"},
    ):
        reply = await harness.admin_api.call(
            "POST",
            "/admin/keys/rotate",
            body=b"{}",
            headers={**ADMIN, **extra},
            sign=False,
            verify=False,
        )
        assert reply.status == 403, reply.body
    after = (await harness.admin_api.call("GET", "/admin/keys", headers=ADMIN, sign=False)).json()
    assert after == before


@pytest.mark.parametrize("kid", ["a\nb", "x\r\nSet-Cookie: y", "k" * 65, "sp ace", "ünï"])
async def test_a_key_id_that_cannot_travel_in_a_header_is_a_400_and_answers_still_go_out(
    harness: Any, kid: str
) -> None:
    """Found by the route fuzz: a key id with a newline became the response key's id,
    and every later answer failed while its headers were written."""
    reply = await harness.admin_api.call(
        "POST",
        "/admin/keys/rotate",
        json_body={"use": "response", "kid": kid},
        headers=ADMIN,
        sign=False,
    )
    assert reply.status == 400 and reply.json()["field"] == "kid", reply.body
    answer = await harness.api.call("GET", "/healthz", sign=False)
    assert answer.status == 200
