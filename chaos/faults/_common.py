"""What every fault kind shares: target tables, attribute checks, admin HTTP calls.

Validation runs before any mesh exists (the loader checks a whole experiment first,
and fails naming the field), so targets are checked against the mesh model's own
tables (``chaos.mesh.model``). HTTP failures at apply or revert time all become
``FaultError`` with the method, URL and the server's own error text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from chaos.experiment.model import FaultStep
from chaos.faults.base import FaultContext, FaultError, FaultSpecError
from chaos.mesh.model import (
    API_NODES,
    LINKS,
    MAX_API_REPLICAS,
    MAX_WORKLOAD_PAIRS,
    NTP_NODES,
    Scale,
    api_replicas,
    workloads,
)
from chaos.mesh.state import LinkInfo, MeshState, NodeInfo

__all__ = [
    "API_LINKS",
    "LINKS",
    "NODE_TARGETS",
    "NTP_NODES",
    "Attr",
    "FaultError",
    "HttpError",
    "admin_url",
    "check_attributes",
    "check_choice",
    "http",
    "link_info",
    "mesh_replicas",
    "node_info",
    "require_target",
    "units_of",
]

API_LINKS: tuple[str, ...] = API_NODES
"""Links that carry client traffic to one API replica (named after it)."""


def mesh_replicas(state: MeshState) -> tuple[str, ...]:
    """The running mesh's API replicas: ``API_LINKS``, or more in a larger Swarm stack
    (``Scale``) — a fault acting on every replica must reach them all."""
    return api_replicas(state.nodes) or API_LINKS


_LARGEST = Scale(MAX_API_REPLICAS, MAX_WORKLOAD_PAIRS).node_names
_UNTOUCHABLE = {"proxy", *workloads(_LARGEST)}
NODE_TARGETS: tuple[str, ...] = tuple(n for n in _LARGEST if n not in _UNTOUCHABLE)
"""Nodes a node fault may act on: stopping the proxy or a workload would hide every
signal. A file is checked before any mesh is known, so the replicas of the largest
Swarm stack are named; on a smaller mesh the control API answers that it has no api-3."""

HTTP_TIMEOUT_S = 10.0
"""Admin calls are local and quick."""
CONTROL_TIMEOUT_S = 40.0
"""A node action waits for the node: a stop up to 5 s, a start until it is healthy."""


class HttpError(FaultError):
    """An admin API said no: ``status`` and the ``field`` its 400 body named, if any."""

    def __init__(self, message: str, *, status: int, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class Attr:
    """One attribute a fault accepts: JSON type, range, whether it must be given.

    ``type`` is ``int`` (integers only), ``float`` (any finite number), ``bool`` or
    ``str``; ``low``/``high`` bound numbers (inclusive), ``choices`` bound strings.
    ``object`` accepts anything: the fault checks it itself.
    """

    type: type
    required: bool = False
    low: float | None = 0
    high: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""


def units_of(schema: Mapping[str, Attr]) -> dict[str, str]:
    """Attribute -> unit, for the attributes that have one."""
    return {key: attr.unit for key, attr in schema.items() if attr.unit}


def check_attributes(step: FaultStep, schema: Mapping[str, Attr]) -> None:
    """Reject unknown keys, missing required ones and wrongly typed values, naming the field."""
    attributes = step.attributes
    if not isinstance(attributes, Mapping):
        raise FaultSpecError("attributes", "must be a mapping of attribute names to values")
    for key in attributes:
        if key not in schema:
            known = ", ".join(schema) or "none"
            raise FaultSpecError(
                f"attributes.{key}", f"unknown attribute for {step.kind} (known: {known})"
            )
    for key, attr in schema.items():
        if key not in attributes:
            if attr.required:
                raise FaultSpecError(f"attributes.{key}", f"is required for {step.kind}")
            continue
        _check_value(f"attributes.{key}", attributes[key], attr)


def _check_value(field: str, value: object, attr: Attr) -> None:
    unit = f" {attr.unit}" if attr.unit else ""
    if attr.type is object:
        return
    if attr.type is bool:
        if not isinstance(value, bool):
            raise FaultSpecError(field, f"must be true or false, not {value!r}")
        return
    if attr.type is str:
        if not isinstance(value, str) or not value:
            raise FaultSpecError(field, f"must be a non-empty string, not {value!r}")
        if attr.choices:
            check_choice(field, value, attr.choices)
        return
    if attr.type is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise FaultSpecError(field, f"must be an integer{unit}, not {value!r}")
    elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FaultSpecError(field, f"must be a number{unit}, not {value!r}")
    if attr.low is not None and value < attr.low:
        raise FaultSpecError(field, f"must be at least {attr.low:g}{unit}, not {value!r}")
    if attr.high is not None and value > attr.high:
        raise FaultSpecError(field, f"must be at most {attr.high:g}{unit}, not {value!r}")


def check_choice(field: str, value: object, choices: Iterable[str], what: str = "") -> str:
    """``value`` must be one of ``choices``; the message lists them."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        label = f"{what} " if what else ""
        raise FaultSpecError(field, f"unknown {label}{value!r}; use one of {', '.join(options)}")
    return value


def link_info(state: MeshState, name: str) -> LinkInfo:
    """The running mesh's view of a link (validation only knows the static table)."""
    try:
        return state.links[name]
    except KeyError:
        raise FaultError(f"the mesh has no link named {name!r}") from None


def node_info(state: MeshState, name: str) -> NodeInfo:
    try:
        return state.nodes[name]
    except KeyError:
        raise FaultError(f"the mesh has no node named {name!r}") from None


def admin_url(state: MeshState, node: str) -> str:
    url = node_info(state, node).admin_url
    if not url:
        raise FaultError(f"node {node!r} has no admin API")
    return str(url).rstrip("/")


async def http(
    ctx: FaultContext,
    method: str,
    url: str,
    *,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    missing_ok: bool = False,
    timeout_s: float = HTTP_TIMEOUT_S,
) -> Any:
    """One admin call; the decoded JSON body (``None`` if empty, or 404 with ``missing_ok``)."""
    try:
        async with ctx.session.request(
            method,
            url,
            json=body,
            headers=dict(headers or {}),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as response:
            text = await response.text()
            if response.status == 404 and missing_ok:
                return None
            if response.status >= 400:
                message, field = _error(text)
                raise HttpError(
                    f"{method} {url}: HTTP {response.status}: {message}",
                    status=response.status,
                    field=field,
                )
            if not text.strip():
                return None
            return await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise FaultError(f"{method} {url}: no answer ({exc or type(exc).__name__})") from exc


def _error(text: str) -> tuple[str, str | None]:
    """The mesh's ``{error, status, field?}`` body, or the start of whatever came back."""
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:200], None
    if isinstance(body, dict) and "error" in body:
        field = body.get("field")
        return str(body["error"]), None if field is None else str(field)
    return text.strip()[:200], None


def require_target(step: FaultStep, allowed: Iterable[str], what: str) -> str:
    return check_choice("target", step.target, allowed, what)
