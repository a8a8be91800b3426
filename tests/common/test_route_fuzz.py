"""Every route of every HTTP API, fuzzed from its own OpenAPI document: never a 5xx, never
an answer the document does not list, still healthy after.

Property-based (hypothesis, derandomized so CI sees the same cases): an operation of the
document the running app serves, its path parameters drawn from the schema's enum or
any text, a body that is nothing, arbitrary bytes, arbitrary JSON, deep nesting or —
most often — a body valid against the operation's own schema (tests/common/schema_values.py), so
the fuzz reaches past the JSON reader into each handler's checks. The one 500 allowed is
Toxiproxy's own, for a listen that failed ("listen tcp ..."). The gate is fuzzed with the
proxy's document, since it forwards that API.
"""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.common import openapi
from tests.common.apis import TARGETS, Running
from tests.common.schema_values import names, values

LOOPBACK = {"enum": ["127.0.0.1:0", "localhost:0", "127.0.0.1:9", ""]}
"""Addresses the fuzz may write: the proxy binds and dials only loopback (no resolver)."""

JANITOR_URLS = {"enum": ["http://127.0.0.1:9/records/a/A", "http://127.0.0.1:9/", "http://x/"]}
"""The fake mesh's one admin URL (nothing listens; a job is never due within the test)."""

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


def confined(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with every address field limited to loopback (see ``LOOPBACK``)."""
    doc = copy.deepcopy(doc)
    for schema in doc.get("components", {}).get("schemas", {}).values():
        for name in ("listen", "upstream"):
            if name in schema.get("properties", {}):
                schema["properties"][name] = LOOPBACK
        if "due_in_s" in schema.get("properties", {}):
            schema["properties"]["url"] = JANITOR_URLS
    return doc


Operation = tuple[str, str, dict[str, Any], dict[str, Any]]


def operations(base: str, doc: dict[str, Any]) -> list[tuple[str, Operation]]:
    return [(base, (path, method, op, doc)) for path, method, op in openapi.operations(doc)]


def parameter_values(doc: dict[str, Any], op: dict[str, Any], item: dict[str, Any]) -> Any:
    params = [
        openapi.resolve(doc, p) for p in item.get("parameters", []) + op.get("parameters", [])
    ]
    path = {p["name"]: p for p in params if p["in"] == "path"}
    query = {p["name"]: p for p in params if p["in"] == "query"}

    def value(param: dict[str, Any]) -> st.SearchStrategy[str]:
        enum = param.get("schema", {}).get("enum")
        text = names(30)
        return (st.sampled_from([str(v) for v in enum]) | text) if enum else text

    return st.fixed_dictionaries(
        {name: value(p) for name, p in path.items()},
    ), st.fixed_dictionaries({}, optional={name: value(p) for name, p in query.items()})


def body_strategy(doc: dict[str, Any], op: dict[str, Any]) -> st.SearchStrategy[bytes | None]:
    content = op.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    anything: st.SearchStrategy[bytes | None] = st.one_of(
        st.none(),
        st.binary(max_size=200),
        JSON.map(lambda v: json.dumps(v).encode()),
        st.integers(1, 60_000).map(lambda n: b"[" * n + b"]" * n),
    )
    if schema is None:
        return anything
    valid = values(openapi.resolve(doc, schema)).map(lambda v: json.dumps(v).encode())
    return st.one_of(valid, valid, anything)


def call(method: str, url: str, body: bytes | None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method.upper())
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def fill(template: str, values: Mapping[str, str]) -> str:
    out = template
    for name, value in values.items():
        out = out.replace("{" + name + "}", urllib.parse.quote(value or "x", safe=""))
    return out


Request = tuple[str, str, Operation, bytes | None]


def requests(table: list[tuple[str, Operation]]) -> st.SearchStrategy[Request]:
    """(method, URL, operation, body); the table stays out of the strategy's repr."""

    @st.composite
    def draw_request(draw: st.DrawFn) -> Request:
        base, operation = table[draw(st.integers(0, len(table) - 1))]
        path, method, op, doc = operation
        path_values, query_values = parameter_values(doc, op, doc["paths"][path])
        url = base + fill(path, draw(path_values))
        query = draw(query_values)
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return method, url, operation, draw(body_strategy(doc, op))

    return draw_request()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_no_route_answers_5xx_or_an_undocumented_status_and_the_service_stays_healthy(
    name: str,
) -> None:
    target = TARGETS[name]
    with Running(target.make()) as running:
        endpoints = running.service.endpoints
        table = [
            entry
            for site, document in target.sites.items()
            for entry in operations(endpoints[site], confined(document()))
        ]
        assert table, name

        @settings(
            max_examples=500,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(request=requests(table))
        def fuzz(request: Request) -> None:
            method, url, (path, _, op, _), body = request
            status, answer = call(method, url, body)
            if status >= 500:
                listen_failed = name in ("proxy", "gate") and b"listen " in answer
                assert listen_failed, (method, url, answer[:300])
            assert str(status) in op.get("responses", {}), (method, path, status, answer[:300])

        fuzz()
        for site in target.sites:
            status, _ = call("GET", endpoints[site] + target.health, None)
            assert status == 200, (name, site)


def test_fill_quotes_every_parameter() -> None:
    assert fill("/records/{name}/{type}", {"name": "a/b", "type": "TXT"}) == "/records/a%2Fb/TXT"
    assert fill("/proxies", {}) == "/proxies"
