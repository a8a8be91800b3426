"""What a client signs with and what it trusts a response to be signed with.

The naive client's ``Credentials`` come from configuration and never change: when
another administrator rotates the key, every request fails with 401 (fallacy 6).
The resilient client replaces its own from ``GET /.well-known/keys`` after a 401,
presenting its bootstrap token; that answer is signed with the token (key id
``bootstrap``), the one secret the client already holds.

``KeyBook`` is the workload's own record of genuine response keys, used only to
*measure* whether a client that does not verify accepted a forgery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.api.headers import BOOTSTRAP_TOKEN
from services.api.signing import SignatureError, sign_request, verify_response

__all__ = [
    "BOOTSTRAP_KEY_ID",
    "BOOTSTRAP_TOKEN",
    "DISCOVERY_PATH",
    "Credentials",
    "KeyBook",
    "parse_discovery",
]

DISCOVERY_PATH = "/.well-known/keys"
BOOTSTRAP_KEY_ID = "bootstrap"
"""Key id the API signs the discovery answer with (services/api/routes/keys.py)."""


@dataclass
class Credentials:
    key_id: str
    secret: str
    response_secrets: dict[str, str] = field(default_factory=dict)

    def sign(self, method: str, target: str, body: bytes | None, now: float) -> dict[str, str]:
        return sign_request(method, target, body, self.key_id, self.secret, now)

    def verify(
        self, method: str, target: str, status: int, body: bytes, headers: Mapping[str, str]
    ) -> None:
        """Raise ``SignatureError`` unless a known response key signed exactly this answer."""
        verify_response(method, target, status, body, headers, self.response_secrets)


class KeyBook:
    """Every response key known to be genuine: configured ones plus any discovered."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self._secrets = dict(secrets)

    def learn(self, secrets: Mapping[str, str]) -> None:
        self._secrets.update(secrets)

    def genuine(
        self, method: str, target: str, status: int, body: bytes, headers: Mapping[str, str]
    ) -> bool:
        try:
            verify_response(method, target, status, body, headers, self._secrets)
        except SignatureError:
            return False
        return True


def parse_discovery(doc: Any) -> tuple[tuple[str, str] | None, dict[str, str]]:
    """The newest valid request key (kid, secret) and every valid response key's secret.

    Shape (services/api/keys.py ``Key.describe``): ``{"keys": [{kid, use, status,
    not_before, secret}, ...]}``; keys without a secret (no token) are skipped.
    """
    keys = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(keys, list):
        raise ValueError("discovery document without a keys list")
    request: list[tuple[float, str, str]] = []
    response: dict[str, str] = {}
    for key in keys:
        if not isinstance(key, dict):
            continue
        kid, secret, use = key.get("kid"), key.get("secret"), key.get("use")
        if not isinstance(kid, str) or not isinstance(secret, str) or not kid or not secret:
            continue
        if key.get("status") not in (None, "active", "retiring"):
            continue
        if use == "request":
            not_before = key.get("not_before")
            since = float(not_before) if isinstance(not_before, int | float) else 0.0
            request.append((since, kid, secret))
        elif use == "response":
            response[kid] = secret
    newest = max(request) if request else None
    return (None if newest is None else (newest[1], newest[2])), response
