"""What a proxy or toxic may be called: a name a URL path, a log line and ``/metrics``
can all carry, and that the API can address again."""

from __future__ import annotations

from chaos.proxy.errors import bad_request

__all__ = ["MAX_NAME_CHARS", "check_name"]

MAX_NAME_CHARS = 200
"""Longer names were seen to be created and then never addressed again (~8 KB URLs)."""


def check_name(name: str, what: str) -> str:
    """``name`` if printable, without ``/`` and at most ``MAX_NAME_CHARS``; else a 400."""
    if len(name) > MAX_NAME_CHARS:
        raise bad_request(f"{what} name: {len(name)} characters; at most {MAX_NAME_CHARS}")
    if not name.isprintable() or any(0xD800 <= ord(ch) <= 0xDFFF for ch in name):
        raise bad_request(f"{what} name {name!r}: only printable characters")
    if "/" in name:
        raise bad_request(f"{what} name {name!r}: no '/' (it could not be addressed in a URL)")
    return name
