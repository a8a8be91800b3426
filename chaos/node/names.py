"""Addresses a node learns at start: ``{{ip:NAME}}`` in its config becomes NAME's IPv4
(``{{ip:@self}}`` its own).

The Swarm stack has no static addresses, yet DNS records and a resolver's nameserver
must be IP literals. Its configs name the services instead, and the node resolves them
through the engine's DNS (a service's virtual IP is stable for the life of the stack)
before it starts. A config without placeholders is returned unchanged, at no cost.
"""

from __future__ import annotations

import re
import socket
import time
from typing import Any

__all__ = ["PLACEHOLDER", "resolve_names"]

PLACEHOLDER = re.compile(r"\{\{ip:(@self|[A-Za-z0-9_.-]+)\}\}")
SELF = "@self"
"""The node's own address: the engine's DNS names a task only once it is healthy, so
a node that must name itself (the DNS server's own NS record) cannot ask it."""


def _names(value: Any, found: set[str]) -> None:
    if isinstance(value, str):
        found.update(PLACEHOLDER.findall(value))
    elif isinstance(value, dict):
        for item in value.values():
            _names(item, found)
    elif isinstance(value, list):
        for item in value:
            _names(item, found)


def _substitute(value: Any, ips: dict[str, str]) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: ips[m.group(1)], value)
    if isinstance(value, dict):
        return {key: _substitute(item, ips) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, ips) for item in value]
    return value


def _ipv4(name: str) -> str | None:
    if name == SELF:
        name = socket.gethostname()
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror:
        return None
    return str(infos[0][4][0]) if infos else None


def resolve_names(config: dict[str, Any], *, timeout_s: float = 60.0) -> dict[str, Any]:
    """``config`` with every placeholder replaced; waits for names not known yet
    (a stack's services appear in the engine's DNS as they are created).

    Raises ``ValueError`` naming what did not resolve within ``timeout_s``.
    """
    wanted: set[str] = set()
    _names(config, wanted)
    if not wanted:
        return config
    ips: dict[str, str] = {}
    deadline = time.monotonic() + timeout_s
    while True:
        for name in sorted(wanted - ips.keys()):
            ip = _ipv4(name)
            if ip is not None:
                ips[name] = ip
        missing = sorted(wanted - ips.keys())
        if not missing:
            return dict(_substitute(config, ips))
        if time.monotonic() >= deadline:
            raise ValueError(f"no address for {', '.join(missing)} within {timeout_s:.0f} s")
        time.sleep(0.5)
