"""Proxy definitions from JSON: request bodies, ``/populate`` lists and config files.

A config file is what Toxiproxy's ``-config`` takes, a populate list::

    [
      {"name": "api-1", "listen": "127.0.0.1:18001", "upstream": "127.0.0.1:8001"},
      {"name": "dns", "listen": "127.0.0.1:15353", "upstream": "127.0.0.1:5353",
       "protocol": "udp"}
    ]

A file may also hold ``{"proxies": [...]}``, and be YAML when named ``*.yaml``/``*.yml``
(``POST /populate`` takes only the bare array, as Toxiproxy does).
Keys Toxiproxy ignores (``toxics``, ``Logger``) are ignored here as well.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaos.proxy.errors import MISSING_FIELD, ProxyApiError, bad_request
from chaos.proxy.names import check_name
from chaos.proxy.proxy import ProxySpec
from chaos.proxy.stream import NetProtocol
from services.common.errors import FallaciesError

__all__ = ["ConfigError", "load_config", "parse_populate", "parse_proxy"]


class ConfigError(FallaciesError, ValueError):
    """A config file cannot be read or describes proxies wrongly (the message names the field)."""


def load_config(path: str | Path) -> list[dict[str, Any]]:
    """Read and check a config file; returns the list ``ProxyServer(config=...)`` takes."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON/YAML: {exc}") from None
    entries = data.get("proxies") if isinstance(data, dict) else data
    try:
        parse_populate(entries)
    except ProxyApiError as exc:
        raise ConfigError(f"{path}: {exc.message}") from None
    assert isinstance(entries, list)
    return [dict(entry) for entry in entries]


def parse_populate(body: object) -> list[ProxySpec]:
    """A populate body (a JSON array, as Toxiproxy wants): every entry is checked first."""
    if not isinstance(body, list):
        kind = "object" if isinstance(body, Mapping) else "non-array"
        raise bad_request(f"json: cannot unmarshal {kind} into Go value of type []toxiproxy.Proxy")
    specs = []
    for index, entry in enumerate(body, start=1):
        if not isinstance(entry, Mapping):
            raise bad_request(f"proxy {index} must be an object")
        if not entry.get("name"):
            raise MISSING_FIELD.joined(f"name at proxy {index}")
        if not entry.get("upstream"):
            raise MISSING_FIELD.joined(f"upstream at proxy {index}")
        specs.append(parse_proxy(entry))
    return specs


def parse_proxy(body: object) -> ProxySpec:
    """POST /proxies; ``enabled`` defaults to true, ``protocol`` to tcp."""
    if not isinstance(body, Mapping):
        raise bad_request("json: cannot unmarshal non-object into Go value of type toxiproxy.Proxy")
    name = _string(body, "name")
    upstream = _string(body, "upstream")
    if not name:
        raise MISSING_FIELD.joined("name")
    check_name(name, "proxy")
    if not upstream:
        raise MISSING_FIELD.joined("upstream")
    enabled = body.get("enabled", True)
    if enabled is None:
        enabled = True
    if not isinstance(enabled, bool):
        raise bad_request('"enabled" must be true or false')
    return ProxySpec(
        name=name,
        upstream=upstream,
        listen=_string(body, "listen"),
        enabled=enabled,
        protocol=parse_protocol(body.get("protocol")),
    )


def parse_protocol(value: object) -> NetProtocol:
    if value is None:
        return NetProtocol.TCP
    if isinstance(value, str):
        try:
            return NetProtocol.parse(value)
        except ValueError:
            pass
    raise bad_request('"protocol" must be "tcp" or "udp"')


def _string(body: Mapping[str, object], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_request(f'"{key}" must be a string')
    return value
