"""The replica's signing keys over time: which are valid now, and rotation with a grace period.

Another administrator rotating a key under a running client is fallacy 6; the ring
makes the old key stop working at a chosen instant (``not_after``) and lists the
new one for discovery. Times are unix seconds from the replica's clock, passed in
so the ring itself never reads a clock.
"""

from __future__ import annotations

import secrets as _secrets
from dataclasses import dataclass
from typing import Literal

Use = Literal["request", "response"]

_FORGET_AFTER_S = 3600.0


@dataclass(frozen=True)
class Key:
    kid: str
    secret: str
    use: Use
    not_before: float
    not_after: float | None = None

    def valid_at(self, now: float) -> bool:
        return self.not_before <= now and (self.not_after is None or now < self.not_after)

    def status(self, now: float) -> str:
        if now < self.not_before:
            return "pending"
        if self.not_after is None:
            return "active"
        return "retiring" if now < self.not_after else "retired"

    def describe(self, now: float, *, with_secret: bool) -> dict[str, object]:
        doc: dict[str, object] = {
            "kid": self.kid,
            "use": self.use,
            "alg": "HMAC-SHA256",
            "status": self.status(now),
            "not_before": self.not_before,
            "not_after": self.not_after,
        }
        if with_secret:
            doc["secret"] = self.secret
        return doc


class KeyRing:
    """Request keys (verified on the way in) and response keys (used on the way out)."""

    def __init__(self, keys: list[Key]) -> None:
        self._keys = list(keys)

    @classmethod
    def initial(cls, request_keys: dict[str, str], response_keys: dict[str, str]) -> KeyRing:
        """Keys from configuration are valid from the beginning of time until rotated."""
        keys = [Key(kid, secret, "request", 0.0) for kid, secret in request_keys.items()]
        keys += [Key(kid, secret, "response", 0.0) for kid, secret in response_keys.items()]
        return cls(keys)

    def valid(self, use: Use, now: float) -> list[Key]:
        return [k for k in self._keys if k.use == use and k.valid_at(now)]

    def secrets(self, use: Use, now: float) -> dict[str, str]:
        """Key id -> secret for every key of ``use`` valid at ``now`` (what verification needs)."""
        return {k.kid: k.secret for k in self.valid(use, now)}

    def signing_key(self, use: Use, now: float) -> Key:
        """The newest valid key (the last configured one on a tie): what this replica signs with."""
        newest: Key | None = None
        for key in self.valid(use, now):
            if newest is None or key.not_before >= newest.not_before:
                newest = key
        if newest is None:
            raise LookupError(f"no valid {use} key")
        return newest

    def listed(self, now: float) -> list[Key]:
        """Keys a discovery document shows: valid ones, newest first."""
        return sorted(
            (k for k in self._keys if k.valid_at(now)),
            key=lambda k: (k.use, -k.not_before),
        )

    def all(self) -> list[Key]:
        return list(self._keys)

    def rotate(
        self,
        use: Use,
        now: float,
        *,
        grace_s: float = 0.0,
        kid: str | None = None,
        secret: str | None = None,
    ) -> tuple[Key, list[Key]]:
        """Install a new key and retire the current ones after ``grace_s`` seconds.

        Pass ``kid`` and ``secret`` to install the same key on every replica (the
        chaos runner does); otherwise both are generated. Returns the new key and
        the keys now retiring.
        """
        kid = kid or f"{use[:3]}-{_secrets.token_hex(4)}"
        known = next((k for k in self._keys if k.kid == kid), None)
        if known is not None and (known.use != use or secret != known.secret):
            raise ValueError(f"key id {kid!r} already exists")
        # The same kid and secret again reinstates that key: how another administrator
        # (or the chaos runner's revert) rotates back to the key clients were given.
        new = Key(kid, secret or _secrets.token_urlsafe(32), use, now)
        retiring: list[Key] = []
        kept: list[Key] = []
        for key in self._keys:
            if key.kid == kid:
                continue
            if key.use == use and key.valid_at(now) and key.not_after is None:
                key = Key(key.kid, key.secret, key.use, key.not_before, now + grace_s)
                retiring.append(key)
            if key.not_after is None or key.not_after > now - _FORGET_AFTER_S:
                kept.append(key)
        kept.append(new)
        self._keys = kept
        return new, retiring
