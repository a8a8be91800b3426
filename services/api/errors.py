"""The API's refusals: one exception, turned into ``{error, status, reason[, field]}`` once.

    Exception
     ├── ApiError          a request refused with a status and a bounded reason code
     ├── FieldError        (services.common) bad input naming the field -> 400 InvalidField
     └── SignatureError    (signing) a signature check failed -> 401/403 with its reason

Every ``ApiError`` counts in ``fallacies_api_rejects_total{reason}``; the reason codes are the
constants below plus the signing module's, so the label stays bounded.
"""

from __future__ import annotations

from typing import Any

from services.common.errors import FallaciesError

INVALID_FIELD = "InvalidField"
BODY_TOO_LARGE = "BodyTooLarge"
IDEMPOTENCY_KEY_REUSED = "IdempotencyKeyReused"
INVALID_ADMIN_TOKEN = "InvalidAdminToken"
ADMIN_LOCKED = "AdminLocked"
INVALID_BOOTSTRAP_TOKEN = "InvalidBootstrapToken"


class ApiError(FallaciesError):
    """Raised by handlers and middleware; the error middleware renders it."""

    def __init__(
        self, status: int, reason: str, message: str, *, field: str | None = None, **extra: Any
    ) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        self.field = field
        self.extra = extra
        super().__init__(f"{status} {reason}: {message}")

    def body_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"reason": self.reason, **self.extra}
        if self.field is not None:
            fields["field"] = self.field
        return fields
