"""Request bodies as JSON, within bounds: the one reader every HTTP API of the mesh uses.

``json.loads`` takes what a fuzzer sends and fails late: a body nested 100,000 deep
raises RecursionError (a 500), a lone surrogate (``"\\ud800"``) decodes fine and
breaks whatever encodes it later (``/metrics`` for a proxy named so). Here each of
those is a ``ValueError`` whose message fits after "body: ", before anything uses it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from services.common.errors import FieldError

__all__ = [
    "MAX_DEPTH",
    "MAX_STRING_CHARS",
    "body_bytes",
    "parse_json",
    "parse_object",
    "read_object",
]

MAX_DEPTH = 32
"""Objects and arrays inside each other; the deepest body the mesh takes is 4."""
MAX_STRING_CHARS = 65_536
"""Longest string anywhere in a body (a TXT value is at most 255 bytes per string)."""

_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``raw``: UTF-8, nested at most ``max_depth``, strings bounded
    and encodable. Raises ``ValueError`` naming what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start})") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    _check(value, max_depth)
    return value


async def body_bytes(request: web.Request) -> bytes:
    """The raw body of a request that says it is UTF-8 or says nothing; a body in another
    charset is refused (its bytes would be read as something they are not)."""
    charset = (request.charset or "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise FieldError("body", f"charset {charset!r}: only UTF-8 JSON is accepted")
    return await request.read()


def _check(value: Any, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_string(item)
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                raise ValueError(f"nested deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key, member in item.items():
                    _check_string(key)
                    stack.append((member, depth + 1))
            else:
                stack.extend((member, depth + 1) for member in item)


def _check_string(text: str) -> None:
    if len(text) > MAX_STRING_CHARS:
        raise ValueError(f"a string of {len(text)} characters (at most {MAX_STRING_CHARS})")
    if _SURROGATE.search(text):
        raise ValueError("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)")


def parse_object(body: bytes, *, allowed: Iterable[str], empty_ok: bool = False) -> dict[str, Any]:
    """Decode a JSON object body; unknown members are refused so typos do not pass silently."""
    if not body.strip():
        if empty_ok:
            return {}
        raise FieldError("body", "a JSON object is required")
    try:
        doc = parse_json(body)
    except ValueError as exc:
        raise FieldError("body", str(exc)) from None
    if not isinstance(doc, dict):
        raise FieldError("body", "expected a JSON object")
    allowed = set(allowed)
    for name in doc:
        if name not in allowed:
            raise FieldError(name, f"unknown field (expected one of {', '.join(sorted(allowed))})")
    return doc


async def read_object(
    request: web.Request, *, allowed: Iterable[str], empty_ok: bool = False
) -> dict[str, Any]:
    return parse_object(await body_bytes(request), allowed=allowed, empty_ok=empty_ok)
