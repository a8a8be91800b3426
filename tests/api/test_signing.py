"""The signing scheme as pure functions: what the workload client relies on."""

from __future__ import annotations

import hashlib

import pytest

from services.api.signing import (
    SignatureError,
    canonical_request,
    canonical_target,
    sign_request,
    sign_response,
    verify_request,
    verify_response,
)

SECRETS = {"dev-1": "fallacies-dev-request-secret"}
RESPONSE_SECRETS = {"resp-1": "fallacies-dev-response-secret"}
NOW = 1_700_000_000.0
BODY = b'{"value":"hi"}'


def test_golden_vector_pins_the_canonical_string():
    """Checked once against ``openssl dgst -hmac``; docs/api.md shows the same example."""
    headers = sign_request("PUT", "/kv/greeting?b=2&a=1", BODY, "dev-1", SECRETS["dev-1"], NOW)
    assert headers == {
        "X-Fallacies-Key-Id": "dev-1",
        "X-Fallacies-Timestamp": "1700000000.000",
        "X-Fallacies-Signature": "3e77ce0edbbd7652bf7b838f4326b2cd968ee4e5a7f6956a354a4bb1126e1d58",
    }
    digest = hashlib.sha256(BODY).hexdigest()
    assert canonical_request("put", "/kv/greeting?b=2&a=1", "1700000000.000", "dev-1", digest) == (
        f"FALLACIES-HMAC-SHA256\nPUT\n/kv/greeting?a=1&b=2\n1700000000.000\ndev-1\n{digest}"
    )


def test_canonical_target_ignores_how_the_url_was_escaped():
    assert canonical_target("/catalog/batch?ids=1,2&fields=id") == canonical_target(
        "/catalog/batch?fields=id&ids=1%2C2"
    )
    assert canonical_target("/kv/a%20b") == canonical_target("/kv/a b")
    assert canonical_target("") == "/"


def test_a_good_request_verifies():
    headers = sign_request("PUT", "/kv/a", BODY, "dev-1", SECRETS["dev-1"], NOW)
    assert verify_request("PUT", "/kv/a", BODY, headers, SECRETS, now=NOW + 4.9) == "dev-1"


def test_header_names_are_case_insensitive():
    headers = sign_request("GET", "/kv/a", None, "dev-1", SECRETS["dev-1"], NOW)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert verify_request("GET", "/kv/a", b"", lowered, SECRETS, now=NOW) == "dev-1"


@pytest.mark.parametrize(
    ("mutate", "reason", "status"),
    [
        (lambda h: h.pop("X-Fallacies-Signature"), "MissingSignature", 401),
        (lambda h: h.update({"X-Fallacies-Key-Id": "nope"}), "InvalidKeyId", 401),
        (lambda h: h.update({"X-Fallacies-Signature": "0" * 64}), "SignatureDoesNotMatch", 401),
    ],
)
def test_bad_credentials_are_401(mutate, reason, status):
    headers = sign_request("PUT", "/kv/a", BODY, "dev-1", SECRETS["dev-1"], NOW)
    mutate(headers)
    with pytest.raises(SignatureError) as info:
        verify_request("PUT", "/kv/a", BODY, headers, SECRETS, now=NOW)
    assert (info.value.reason, info.value.status) == (reason, status)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("POST", "/kv/a", BODY), ("PUT", "/kv/b", BODY), ("PUT", "/kv/a", b'{"value":"ho"}')],
)
def test_signature_covers_method_path_and_body(method, path, body):
    headers = sign_request("PUT", "/kv/a", BODY, "dev-1", SECRETS["dev-1"], NOW)
    with pytest.raises(SignatureError, match="SignatureDoesNotMatch"):
        verify_request(method, path, body, headers, SECRETS, now=NOW)


@pytest.mark.parametrize("skew", [6.0, -6.0])
def test_a_skewed_clock_is_403_with_the_server_time(skew):
    headers = sign_request("GET", "/kv/a", b"", "dev-1", SECRETS["dev-1"], NOW + skew)
    with pytest.raises(SignatureError) as info:
        verify_request("GET", "/kv/a", b"", headers, SECRETS, now=NOW, max_skew_s=5.0)
    assert info.value.reason == "RequestTimeTooSkewed"
    assert info.value.status == 403
    assert info.value.detail["server_time"] == NOW


def test_a_forged_timestamp_fails_the_signature_not_the_clock():
    headers = sign_request("GET", "/kv/a", b"", "dev-1", SECRETS["dev-1"], NOW - 60)
    headers["X-Fallacies-Timestamp"] = f"{NOW:.3f}"
    with pytest.raises(SignatureError, match="SignatureDoesNotMatch"):
        verify_request("GET", "/kv/a", b"", headers, SECRETS, now=NOW)


def test_response_signature_verifies_and_detects_tampering():
    body = b'{"key":"a","value":1}'
    headers = sign_response("GET", "/kv/a", 200, body, "resp-1", RESPONSE_SECRETS["resp-1"], NOW)
    assert verify_response("GET", "/kv/a", 200, body, headers, RESPONSE_SECRETS) == "resp-1"
    for status, path, tampered in [
        (200, "/kv/a", b'{"key":"a","value":2}'),
        (500, "/kv/a", body),
        (200, "/kv/b", body),
    ]:
        with pytest.raises(SignatureError, match="SignatureDoesNotMatch"):
            verify_response("GET", path, status, tampered, headers, RESPONSE_SECRETS)


def test_response_from_an_unknown_key_or_unsigned_is_refused():
    headers = sign_response("GET", "/", 200, b"", "rogue", "rogue-secret-0000", NOW)
    with pytest.raises(SignatureError, match="InvalidKeyId"):
        verify_response("GET", "/", 200, b"", headers, RESPONSE_SECRETS)
    with pytest.raises(SignatureError, match="MissingSignature"):
        verify_response("GET", "/", 200, b"", {}, RESPONSE_SECRETS)


def test_response_age_check_is_optional():
    headers = sign_response("GET", "/", 200, b"", "resp-1", RESPONSE_SECRETS["resp-1"], NOW)
    verify_response("GET", "/", 200, b"", headers, RESPONSE_SECRETS, now=NOW + 30)
    with pytest.raises(SignatureError, match="ResponseTimeTooSkewed"):
        verify_response("GET", "/", 200, b"", headers, RESPONSE_SECRETS, now=NOW + 30, max_age_s=5)
