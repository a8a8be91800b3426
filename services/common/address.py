"""``host:port`` and ``http://host:port`` with IPv6 hosts in brackets, written one way
for every node, proxy and error message."""

from __future__ import annotations

__all__ = ["http_url", "join"]


def join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def http_url(host: str, port: int) -> str:
    return f"http://{join(host, port)}"
