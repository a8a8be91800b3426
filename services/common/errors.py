"""Errors shared by the services.

Exception
 ├── PortInUseError   a listening socket could not be bound (names host:port)
 └── FieldError       an admin request body is wrong (names the field)
"""

from __future__ import annotations


class PortInUseError(Exception):
    """Raised instead of a bare OSError so the CLI can print one line that names the port."""

    def __init__(self, what: str, host: str, port: int, reason: str) -> None:
        self.what = what
        self.host = host
        self.port = port
        super().__init__(f"cannot listen for {what} on {host}:{port}: {reason}")


class FieldError(ValueError):
    """A bad admin request: carries the offending field so the 400 body can name it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")
