"""Why a journey failed, as exceptions the journey turns into one bounded outcome label.

    Exception
     ├── DnsError          no usable DNS answer (reason, transport)            -> dns_failure
     └── RequestError      an HTTP exchange did not give a usable answer
          ├── RequestFailed   no answer: connect refused, reset, timeout
          │                   -> stale_endpoint | network_error | timeout
          ├── Refused         an answer that says no (4xx/5xx)
          │                   -> rejected_skew | rejected_key | http_error
          └── ForgedResponse  an answer whose signature does not verify -> forged

Every error names the endpoint it came from, so the resilient client can steer its
next attempt elsewhere and the journey can tell a moved node from a flaky link.
"""

from __future__ import annotations

from services.common.errors import FallaciesError
from services.workload._types import Endpoint


class DnsError(FallaciesError):
    """No usable answer; ``reason`` is one of ``metrics.DNS_FAILURE_REASONS``."""

    def __init__(self, reason: str, transport: str, message: str) -> None:
        self.reason = reason
        self.transport = transport
        super().__init__(f"{transport}: {reason}: {message}")


class RequestError(FallaciesError):
    def __init__(self, endpoint: Endpoint, message: str) -> None:
        self.endpoint = endpoint
        super().__init__(f"{endpoint.node} ({endpoint.address}): {message}")


class RequestFailed(RequestError):
    """``kind`` is ``connect`` (never reached the peer), ``network`` or ``timeout``.

    ``stale`` is set when an out-of-band DNS check shows the endpoint is no longer
    published: the client is talking to where the node used to be.
    """

    def __init__(self, endpoint: Endpoint, kind: str, message: str) -> None:
        self.kind = kind
        self.stale = False
        super().__init__(endpoint, f"{kind}: {message}")


class Refused(RequestError):
    """``reason`` is the API's machine-readable code (``RequestTimeTooSkewed`` ...) if any."""

    def __init__(
        self,
        endpoint: Endpoint,
        status: int,
        reason: str | None,
        message: str,
        *,
        retry_after_s: float | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.retry_after_s = retry_after_s
        """What the refusal's Retry-After header asked for, in seconds, if anything."""
        super().__init__(endpoint, f"HTTP {status} {reason or ''}: {message}".strip())

    @property
    def retryable(self) -> bool:
        """Overload and server faults are worth another replica; refusals of us are not."""
        return self.status == 429 or self.status >= 500


class ForgedResponse(RequestError):
    """``unknown_key``: signed with a key id the client does not know — maybe a rotation,
    worth one key discovery elsewhere before calling it a forgery."""

    def __init__(self, endpoint: Endpoint, message: str, *, unknown_key: bool = False) -> None:
        self.unknown_key = unknown_key
        super().__init__(endpoint, message)
