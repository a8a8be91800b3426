"""Each HTTP API described once: an OpenAPI document beside the routes it describes.

The document is package data (``openapi.yaml`` next to the app), so the running app
serves exactly what the docs render (``docs/generate.py`` writes docs/http-apis.md
from the same files) and what the route fuzz draws its bodies from. A test holds the
document and the app's route table equal, both ways, so neither can drift.

The answers every admin API shares — the error body, the browser guard's 403, the
token's 401, aiohttp's 404, 405 and 413 — are written once, in ``common.yaml`` here,
and added to every operation at load: a document lists only what its routes add.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any, Final

import yaml
from aiohttp import web

from services.common.admin_token import OPEN_PATHS as OPEN_PATHS
from services.common.admin_token import PATH_OPENAPI as PATH

__all__ = [
    "METHODS",
    "PATH",
    "load",
    "merge_all_of",
    "mismatches",
    "operations",
    "resolve",
    "route_table",
    "serve",
    "shared_statuses",
]

METHODS: Final = ("get", "put", "post", "delete", "patch", "head")


@functools.cache
def _read(package: str, resource: str) -> dict[str, Any]:
    text = resources.files(package).joinpath(resource).read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict):
        raise ValueError(f"{package}/{resource}: not a mapping")
    return doc


def shared_statuses() -> frozenset[str]:
    """The answers ``load`` adds to every operation (a status code each, as text)."""
    return frozenset(
        _read(__name__.rpartition(".")[0], "openapi_common.yaml")["x-every-operation"]["responses"]
    )


def load(package: str, resource: str = "openapi.yaml") -> dict[str, Any]:
    """The document with the shared components and answers merged in (a fresh copy)."""
    doc = copy.deepcopy(_read(package, resource))
    common = _read(__name__.rpartition(".")[0], "openapi_common.yaml")
    components = doc.setdefault("components", {})
    for kind, entries in common["components"].items():
        components.setdefault(kind, {}).update(copy.deepcopy(entries))
    shared = common["x-every-operation"]["responses"]
    open_paths = set(doc.get("x-open-paths", OPEN_PATHS)) | {PATH}
    for path, _, op in operations(doc):
        responses = op.setdefault("responses", {})
        for status, answer in shared.items():
            if status == "401" and (path in open_paths or not doc.get("x-admin-token", True)):
                continue
            responses.setdefault(status, copy.deepcopy(answer))
    doc["paths"].setdefault(PATH, copy.deepcopy(common["x-openapi-path"]))
    return doc


def operations(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) of every operation in the document."""
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(doc: Mapping[str, Any], node: Any) -> Any:
    """``node`` with every local ``$ref`` replaced by what it points at (no cycles here)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = doc
            for part in ref[2:].split("/"):
                target = target[part]
            return resolve(doc, target)
        return {key: resolve(doc, value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(doc, value) for value in node]
    return node


def merge_all_of(schema: Mapping[str, Any]) -> dict[str, Any]:
    """An ``allOf`` of object schemas as the one object schema it means (resolved parts)."""
    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for part in schema["allOf"]:
        merged["properties"].update(part.get("properties", {}))
        merged["required"] += part.get("required", [])
    return merged


def route_table(app: web.Application) -> set[tuple[str, str]]:
    """(path template, lower-case method) of every route ``app`` serves (HEAD and * left out)."""
    found = set()
    for route in app.router.routes():
        if route.resource is None or route.method in ("*", "HEAD"):
            continue
        info = route.resource.get_info()
        template = info.get("formatter") or info.get("path")
        if template:
            found.add((template, route.method.lower()))
    return found


def mismatches(app: web.Application, doc: Mapping[str, Any]) -> list[str]:
    """What the app serves and the document leaves out, and what it documents in vain."""
    served = route_table(app)
    documented = {(path, method) for path, method, _ in operations(doc)}
    missing = [f"undocumented: {m.upper()} {p}" for p, m in sorted(served - documented)]
    extra = [f"not served: {m.upper()} {p}" for p, m in sorted(documented - served)]
    return missing + extra


def serve(app: web.Application, doc: Mapping[str, Any]) -> web.Application:
    """Serve ``doc`` at ``GET /openapi.json`` (before the app starts)."""
    body = dict(doc)

    async def handler(_: web.Request) -> web.Response:
        return web.json_response(body)

    app.router.add_get(PATH, handler, allow_head=False)
    return app
