"""Errors of the fault proxy. Every one that reaches the API is answered in
Toxiproxy's shape, ``{"error": message, "status": code}``.

Exception
 └── ProxyApiError (message, status)
      ├── ListenError             a link could not bind its listen address (500, like Toxiproxy)
      └── sentinels (instances):  BAD_REQUEST_BODY 400, MISSING_FIELD 400, INVALID_STREAM 400,
                                  INVALID_TOXIC_TYPE 400, PROXY_NOT_FOUND 404, TOXIC_NOT_FOUND 404,
                                  PROXY_ALREADY_EXISTS 409, TOXIC_ALREADY_EXISTS 409

Messages are Toxiproxy 2.12's, byte for byte, so a client matching on them works
against both servers; ``joined`` adds a detail the way Go's ``joinError`` does.
"""

from __future__ import annotations

from services.common.address import join
from services.common.errors import FallaciesError

__all__ = [
    "BAD_REQUEST_BODY",
    "INVALID_STREAM",
    "INVALID_TOXIC_TYPE",
    "MISSING_FIELD",
    "PROXY_ALREADY_EXISTS",
    "PROXY_NOT_FOUND",
    "TOXIC_ALREADY_EXISTS",
    "TOXIC_NOT_FOUND",
    "ProxyApiError",
    "ListenError",
    "bad_request",
]


class ProxyApiError(FallaciesError):
    """An error with the HTTP status the API answers it with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def joined(self, detail: str) -> ProxyApiError:
        """``"<message>: <detail>"`` with the same status, as Toxiproxy's ``joinError``."""
        return ProxyApiError(f"{self.message}: {detail}", self.status)

    def to_json(self) -> dict[str, object]:
        return {"error": self.message, "status": self.status}


class ListenError(ProxyApiError):
    """A link could not listen; keeps host, port and reason so a CLI can name the port."""

    def __init__(self, protocol: str, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        self.reason = reason
        super().__init__(f"listen {protocol} {join(host, port)}: bind: {reason}", 500)


BAD_REQUEST_BODY = ProxyApiError("bad request body", 400)
MISSING_FIELD = ProxyApiError("missing required field", 400)
PROXY_NOT_FOUND = ProxyApiError("proxy not found", 404)
PROXY_ALREADY_EXISTS = ProxyApiError("proxy already exists", 409)
INVALID_STREAM = ProxyApiError("stream was invalid, can be either upstream or downstream", 400)
INVALID_TOXIC_TYPE = ProxyApiError("invalid toxic type", 400)
TOXIC_ALREADY_EXISTS = ProxyApiError("toxic already exists", 409)
TOXIC_NOT_FOUND = ProxyApiError("toxic not found", 404)


def bad_request(detail: str) -> ProxyApiError:
    return BAD_REQUEST_BODY.joined(detail)
