"""Header names the API reads or writes, besides the signing ones in ``signing``."""

from __future__ import annotations

from services.common import admin_token

IDEMPOTENCY_KEY = "Idempotency-Key"
IDEMPOTENT_REPLAYED = "Idempotent-Replayed"
"""``true`` on a write answered from the idempotency store (Stripe's name for it)."""
REPLICA = "X-Fallacies-Replica"
"""Which replica answered: lets a client see failover and per-replica latency."""
ADMIN_TOKEN = admin_token.HEADER
BOOTSTRAP_TOKEN = "X-Fallacies-Bootstrap-Token"
