"""The request and response signing scheme, as pure functions the server and clients share.

A request is signed with a shared secret identified by a key id; the server answers
401 when the key or the signature is wrong and 403 ``RequestTimeTooSkewed`` when the
client's clock is more than ``max_skew_s`` away from its own — the way cloud APIs
(AWS SigV4) refuse replays and expose a client's bad clock.

Canonical request (lines joined by ``\\n``, no trailing newline)::

    FALLACIES-HMAC-SHA256
    <METHOD, upper case>
    <canonical target: path, then ?query with parameters sorted>
    <X-Fallacies-Timestamp, exactly as sent>
    <X-Fallacies-Key-Id>
    <hex SHA-256 of the body bytes (of b"" when there is none)>

``X-Fallacies-Signature`` = hex HMAC-SHA256(secret, canonical request).

Canonical response::

    FALLACIES-HMAC-SHA256-RESPONSE
    <status code>
    <METHOD of the request>
    <canonical target of the request>
    <X-Fallacies-Response-Timestamp, exactly as sent>
    <X-Fallacies-Response-Key-Id>
    <hex SHA-256 of the body before content coding (gzip), i.e. what a client reads>

``X-Fallacies-Response-Signature`` = hex HMAC-SHA256(response secret, canonical response).
Binding the response to the request's method and target stops a tampering proxy
from answering one request with another request's (genuinely signed) response.

The Host header is not signed on purpose: every edge runs through a proxy that
changes it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from services.common.errors import FallaciesError

__all__ = [
    "HEADER_KEY_ID",
    "HEADER_RESPONSE_KEY_ID",
    "HEADER_RESPONSE_SIGNATURE",
    "HEADER_RESPONSE_TIMESTAMP",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "SignatureError",
    "body_sha256",
    "canonical_request",
    "canonical_response",
    "canonical_target",
    "sign_request",
    "sign_response",
    "verify_request",
    "verify_response",
]

ALGORITHM = "FALLACIES-HMAC-SHA256"
RESPONSE_ALGORITHM = "FALLACIES-HMAC-SHA256-RESPONSE"

HEADER_KEY_ID = "X-Fallacies-Key-Id"
HEADER_TIMESTAMP = "X-Fallacies-Timestamp"
HEADER_SIGNATURE = "X-Fallacies-Signature"
HEADER_RESPONSE_KEY_ID = "X-Fallacies-Response-Key-Id"
HEADER_RESPONSE_TIMESTAMP = "X-Fallacies-Response-Timestamp"
HEADER_RESPONSE_SIGNATURE = "X-Fallacies-Response-Signature"

MISSING_SIGNATURE = "MissingSignature"
INVALID_KEY_ID = "InvalidKeyId"
SIGNATURE_DOES_NOT_MATCH = "SignatureDoesNotMatch"
INVALID_TIMESTAMP = "InvalidTimestamp"
REQUEST_TIME_TOO_SKEWED = "RequestTimeTooSkewed"
RESPONSE_TOO_OLD = "ResponseTimeTooSkewed"

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class SignatureError(FallaciesError):
    """A signature check failed; ``reason`` is the machine-readable code clients branch on.

    ``status`` is the HTTP status the server answers with (401 for credentials, 403
    for a skewed clock); ``detail`` carries extra fields for the error body, such as
    ``server_time`` so a client can correct its clock.
    """

    def __init__(self, reason: str, status: int, message: str, **detail: Any) -> None:
        self.reason = reason
        self.status = status
        self.message = message
        self.detail = detail
        super().__init__(f"{reason}: {message}")


def body_sha256(body: bytes | None) -> str:
    """Hex SHA-256 of a body; the empty body has the well-known empty hash."""
    return hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256


def canonical_target(target: str) -> str:
    """Normalise ``path?query`` so client and server agree whatever the URL library escaped.

    The path is unescaped then escaped again with one fixed safe set; query parameters
    are decoded, sorted by name then value, and encoded the same way.
    """
    path, _, query = target.partition("?")
    canonical = quote(unquote(path), safe="/-_.~") or "/"
    if query:
        pairs = sorted(parse_qsl(query, keep_blank_values=True))
        canonical += "?" + urlencode(pairs, quote_via=quote, safe="-_.~")
    return canonical


def format_timestamp(timestamp: float) -> str:
    """Millisecond precision: enough for a 5 s window, short enough to read in a log."""
    return f"{timestamp:.3f}"


def canonical_request(method: str, target: str, timestamp: str, key_id: str, digest: str) -> str:
    return "\n".join(
        (ALGORITHM, method.upper(), canonical_target(target), timestamp, key_id, digest)
    )


def canonical_response(
    status: int, method: str, target: str, timestamp: str, key_id: str, digest: str
) -> str:
    return "\n".join(
        (
            RESPONSE_ALGORITHM,
            str(status),
            method.upper(),
            canonical_target(target),
            timestamp,
            key_id,
            digest,
        )
    )


def _mac(secret: str | bytes, message: str) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def sign_request(
    method: str,
    path: str,
    body: bytes | None,
    key_id: str,
    secret: str | bytes,
    timestamp: float,
) -> dict[str, str]:
    """Headers to add to a request; ``path`` is the target as sent (path plus query)."""
    stamp = format_timestamp(timestamp)
    message = canonical_request(method, path, stamp, key_id, body_sha256(body))
    return {
        HEADER_KEY_ID: key_id,
        HEADER_TIMESTAMP: stamp,
        HEADER_SIGNATURE: _mac(secret, message),
    }


def verify_request(
    method: str,
    path: str,
    body: bytes | None,
    headers: Mapping[str, str],
    secrets: Mapping[str, str | bytes],
    *,
    now: float,
    max_skew_s: float = 5.0,
) -> str:
    """Check a request's signature and freshness; return the key id or raise ``SignatureError``.

    The signature is checked before the clock so that a 403 ``RequestTimeTooSkewed``
    always means "your credentials are right, your clock is wrong".
    """
    key_id = _header(headers, HEADER_KEY_ID)
    stamp = _header(headers, HEADER_TIMESTAMP)
    signature = _header(headers, HEADER_SIGNATURE)
    if not key_id or not stamp or not signature:
        raise SignatureError(
            MISSING_SIGNATURE,
            401,
            f"{HEADER_KEY_ID}, {HEADER_TIMESTAMP} and {HEADER_SIGNATURE} are required",
        )
    secret = secrets.get(key_id)
    if secret is None:
        raise SignatureError(INVALID_KEY_ID, 401, "unknown or retired key id", key_id=key_id)
    expected = _mac(secret, canonical_request(method, path, stamp, key_id, body_sha256(body)))
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise SignatureError(
            SIGNATURE_DOES_NOT_MATCH, 401, "the signature does not match the request"
        )
    try:
        request_time = float(stamp)
    except ValueError:
        request_time = math.nan
    if not math.isfinite(request_time):
        raise SignatureError(INVALID_TIMESTAMP, 401, "the timestamp is not a number of seconds")
    if abs(request_time - now) > max_skew_s:
        raise SignatureError(
            REQUEST_TIME_TOO_SKEWED,
            403,
            "the difference between the request time and the server's time is too large",
            server_time=now,
            request_time=request_time,
            max_skew_s=max_skew_s,
        )
    return key_id


def sign_response(
    method: str,
    path: str,
    status: int,
    body: bytes | None,
    key_id: str,
    secret: str | bytes,
    timestamp: float,
    *,
    digest: str | None = None,
) -> dict[str, str]:
    """Headers that sign a response to ``method path``; ``digest`` skips rehashing a cached body."""
    stamp = format_timestamp(timestamp)
    message = canonical_response(
        status, method, path, stamp, key_id, digest if digest is not None else body_sha256(body)
    )
    return {
        HEADER_RESPONSE_KEY_ID: key_id,
        HEADER_RESPONSE_TIMESTAMP: stamp,
        HEADER_RESPONSE_SIGNATURE: _mac(secret, message),
    }


def verify_response(
    method: str,
    path: str,
    status: int,
    body: bytes | None,
    headers: Mapping[str, str],
    secrets: Mapping[str, str | bytes],
    *,
    now: float | None = None,
    max_age_s: float | None = None,
) -> str:
    """Check a response against the request it answers; return the key id or raise.

    ``body`` is the decoded body (after gzip), which is what aiohttp's ``read()`` gives.
    With ``now`` and ``max_age_s`` a response stamped too far from ``now`` is refused too.
    """
    key_id = _header(headers, HEADER_RESPONSE_KEY_ID)
    stamp = _header(headers, HEADER_RESPONSE_TIMESTAMP)
    signature = _header(headers, HEADER_RESPONSE_SIGNATURE)
    if not key_id or not stamp or not signature:
        raise SignatureError(MISSING_SIGNATURE, 502, "the response is not signed")
    secret = secrets.get(key_id)
    if secret is None:
        raise SignatureError(INVALID_KEY_ID, 502, "unknown response key id", key_id=key_id)
    expected = _mac(
        secret, canonical_response(status, method, path, stamp, key_id, body_sha256(body))
    )
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise SignatureError(SIGNATURE_DOES_NOT_MATCH, 502, "the response signature does not match")
    if now is not None and max_age_s is not None:
        try:
            response_time = float(stamp)
        except ValueError:
            response_time = math.nan
        if not abs(response_time - now) <= max_age_s:
            raise SignatureError(RESPONSE_TOO_OLD, 502, "the response time is too far from now")
    return key_id
