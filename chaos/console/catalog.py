"""The toxics a person can add from the page: types, attributes, defaults and units.

Read from the proxy's registry, so a new toxic file shows up in the form with no
change here. A toxic's attributes are its dataclass fields and their units are in
each field's docstring (Toxiproxy keeps them in field comments), so the docstrings
are read from the source with ``ast`` and their first words give the unit.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
from functools import cache
from typing import Any, Final, TypedDict

from chaos.mesh.links import EXTENSION_TOXICS
from chaos.proxy.stream import NetProtocol
from chaos.proxy.toxics import REGISTRY
from chaos.proxy.toxics.base import Toxic

__all__ = ["Attribute", "ToxicType", "catalog", "unit_of"]

_UNITS: Final = (
    ("KB/s", "KB/s"),
    ("Milliseconds", "ms"),
    ("Microseconds", "µs"),
    ("Bytes", "bytes"),
    ("± bytes", "bytes"),
    ("Seconds", "s"),
    ("Chance", "0–1"),
)
_TYPES: Final = frozenset({"int", "float", "str", "bool"})


class Attribute(TypedDict):
    name: str
    type: str
    default: Any
    unit: str
    doc: str


class ToxicType(TypedDict):
    type: str
    protocols: list[str]
    doc: str
    toxiproxy: bool
    """Also a real Toxiproxy toxic (else only the project's proxy has it)."""
    attributes: list[Attribute]


def unit_of(doc: str) -> str:
    """``"Milliseconds added to every chunk."`` → ``ms``; empty when the text names none."""
    for words, unit in _UNITS:
        if doc.startswith(words):
            return unit
    return ""


def _field_docs(cls: type[Toxic]) -> dict[str, str]:
    """Each field's docstring: the string literal right after its annotated assignment,
    in the class or a base it inherits fields from (``HttpToxic``'s ``method``, ``path``)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            body = node.body
            for here, after in zip(body, body[1:], strict=False):
                if (
                    isinstance(here, ast.AnnAssign)
                    and isinstance(here.target, ast.Name)
                    and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)
                ):
                    docs[here.target.id] = " ".join(after.value.value.split()).replace("``", "")
    return docs


def _summary(cls: type[Toxic]) -> str:
    module = inspect.getmodule(cls)
    text = (inspect.getdoc(module) or "") if module else ""
    return text.split("\n\n", 1)[0].replace("\n", " ").replace("``", "")


@cache
def catalog() -> tuple[ToxicType, ...]:
    found: list[ToxicType] = []
    for name in sorted(REGISTRY):
        cls = REGISTRY[name]
        docs = _field_docs(cls)
        attributes: list[Attribute] = []
        for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
            doc = docs.get(spec.name, "")
            kind = spec.type.__name__ if isinstance(spec.type, type) else str(spec.type)
            attributes.append(
                Attribute(
                    name=spec.name,
                    type=kind if kind in _TYPES else "str",
                    default=spec.default,
                    unit=unit_of(doc),
                    doc=doc,
                )
            )
        found.append(
            ToxicType(
                type=name,
                protocols=[
                    p.wire for p in (NetProtocol.TCP, NetProtocol.UDP) if p in cls.protocols
                ],
                doc=_summary(cls),
                toxiproxy=name not in EXTENSION_TOXICS,
                attributes=attributes,
            )
        )
    return tuple(found)
