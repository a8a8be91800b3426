"""The HTTP API node (``api-1``, ``api-2``): idempotent key/value writes replicated
last-writer-wins, a large catalog with gzip/ETag/pagination/batch, HMAC-signed
requests and responses with clock-skew checks, key rotation and discovery.

Clients import the signing scheme from ``services.api.signing``.
"""

from services.api.app import create_admin_app, create_app
from services.api.config import ApiConfig
from services.api.server import ApiServer
from services.api.signing import (
    SignatureError,
    sign_request,
    sign_response,
    verify_request,
    verify_response,
)

__all__ = [
    "ApiConfig",
    "ApiServer",
    "SignatureError",
    "create_admin_app",
    "create_app",
    "sign_request",
    "sign_response",
    "verify_request",
    "verify_response",
]
