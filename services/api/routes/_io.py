"""Reading request bodies and query parameters strictly, and writing compact JSON responses.

Every malformed input becomes a ``FieldError`` naming the field, which the error
middleware renders as a 400 — a bad client never reaches a handler's logic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from services.api.encoding import dumps
from services.common.errors import FieldError
from services.common.jsonbody import parse_object, read_object

__all__ = ["int_param", "is_int", "is_number", "json_response", "parse_object", "read_object"]


def json_response(data: Any, *, status: int = 200) -> web.Response:
    return web.Response(body=dumps(data), status=status, content_type="application/json")


def int_param(
    query: Mapping[str, str], name: str, *, default: int, low: int, high: int | None = None
) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise FieldError(name, f"expected an integer, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise FieldError(name, f"must be in {bound}, got {value}")
    return value


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
