"""Values valid against the JSON Schema subset the OpenAPI documents use, as hypothesis
strategies.

hypothesis-jsonschema would do this, but 0.23.1 (the newest) reaches into hypothesis
internals that 6.170 no longer has (``'many' object has no attribute 'more'``); the
documents keep to a small subset — type (or a list of types), enum, properties,
required, additionalProperties, items, minItems, bounds, lengths, pattern, allOf, oneOf — and
this covers exactly that, failing loudly on anything else.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from services.common import openapi

_KNOWN = {
    "type", "enum", "properties", "required", "additionalProperties", "items", "minItems",
    "maxItems", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
    "maxLength", "allOf", "oneOf", "default", "description", "format", "pattern",
}  # fmt: skip


NAMES = ("a", "b", "api-1", "dns", "_api._tcp", "@", "latency_downstream", "k1", "SRV", "A")
"""Strings the fuzz reuses across bodies and paths, so a name created by one request is
found by the next (random text alone almost never meets itself again)."""


def names(max_size: int = 40) -> st.SearchStrategy[str]:
    return st.sampled_from(NAMES) | st.text(max_size=max_size)


def values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    unknown = set(schema) - _KNOWN
    if unknown:
        raise ValueError(f"schema keywords not covered: {sorted(unknown)}")
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "oneOf" in schema:
        return st.one_of([values(option) for option in schema["oneOf"]])
    if "allOf" in schema:
        return values(openapi.merge_all_of(schema))
    kind = schema.get("type")
    if kind is None:
        return st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    if isinstance(kind, list):
        return st.one_of([values({**schema, "type": k}) for k in kind])
    return _TYPED[kind](schema)


def _number(schema: dict[str, Any], integer: bool) -> st.SearchStrategy[Any]:
    low, high = schema.get("minimum"), schema.get("maximum")
    if integer:
        low = low if low is not None else schema.get("exclusiveMinimum", -(2**40) - 1) + 1
        high = high if high is not None else schema.get("exclusiveMaximum", 2**40 + 1) - 1
        return st.integers(int(low), int(high))
    return st.floats(
        min_value=low if low is not None else schema.get("exclusiveMinimum"),
        max_value=high if high is not None else schema.get("exclusiveMaximum"),
        exclude_min="exclusiveMinimum" in schema,
        exclude_max="exclusiveMaximum" in schema,
        allow_nan=False,
        allow_infinity=False,
    )


def _object(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    return st.fixed_dictionaries(
        {name: values(properties[name]) for name in required if name in properties},
        optional={name: values(p) for name, p in properties.items() if name not in required},
    )


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    """Names and text, and strings of the ``pattern`` when there is one (names that miss
    it are kept: a 400 for them is what the fuzz should see too)."""
    found = names(schema.get("maxLength", 40))
    if "pattern" in schema:
        found = st.from_regex(schema["pattern"], fullmatch=True) | found
    low, high = schema.get("minLength", 0), schema.get("maxLength", 10_000)
    return found.filter(lambda v: low <= len(v) <= high)


_TYPED: dict[str, Any] = {
    "object": _object,
    "array": lambda s: st.lists(
        values(s.get("items", {})), min_size=s.get("minItems", 0), max_size=s.get("maxItems", 5)
    ),
    "string": lambda s: _string(s),
    "integer": lambda s: _number(s, True),
    "number": lambda s: _number(s, False),
    "boolean": lambda s: st.booleans(),
    "null": lambda s: st.none(),
}
