"""YAML that remembers where each field was written.

``yaml.safe_load`` throws the node marks away, and an error that cannot say *which
line* sends the author hunting. So the file is composed into nodes (SafeLoader
rules: no arbitrary objects) and the plain value is built by hand, recording the
line of every field path on the way::

    method:              lines["method"]                  = 1
      - fault: latency   lines["method[0]"]               = 2
        attributes:      lines["method[0].fault"]         = 2
          latency: 800   lines["method[0].attributes"]    = 3
                         lines["method[0].attributes.latency"] = 4

A mapping value's line is its key's line (so ``narration:`` points at the heading,
not its first child); a list item's line is its ``-`` line. Problems the YAML layer
can see on its own (syntax, duplicate keys, unknown tags, non-string keys) are
reported here, and the bad value is replaced by ``INVALID`` so the schema check
skips it instead of reporting it twice.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["INVALID", "Document", "Invalid", "NodeProblem", "join", "parent", "parse"]


class Invalid(enum.Enum):
    """The type of ``INVALID``: a value the YAML layer already reported as wrong."""

    INVALID = "INVALID"


INVALID = Invalid.INVALID

_LAST_PART = re.compile(r"(?:\.[^.\[\]]*|\[\d+\])$")
_YAML_INDICATORS = re.compile(r":\s+(?P<value>[>|!&*%@`][^\s#]*)")


def join(path: str, key: str) -> str:
    """``join("method[0]", "target")`` is ``method[0].target``; the root path is ``""``."""
    return f"{path}.{key}" if path else key


def parent(path: str) -> str:
    """The enclosing path: ``a.b[2]`` -> ``a.b`` -> ``a`` -> ``""``."""
    return _LAST_PART.sub("", path) if _LAST_PART.search(path) else ""


@dataclass(frozen=True)
class NodeProblem:
    """A problem the YAML layer found, before the schema is known."""

    line: int | None
    field: str
    message: str


@dataclass
class Document:
    """The plain value of a file plus the line of each field path in it."""

    value: object
    lines: dict[str, int] = field(default_factory=dict)
    root_line: int = 1

    def line(self, path: str) -> int:
        """The line of ``path``, or of its nearest ancestor written in the file.

        A missing field has no line of its own; pointing at the mapping that should
        hold it is the most useful place.
        """
        while path:
            if path in self.lines:
                return self.lines[path]
            path = parent(path)
        return self.root_line


def parse(text: str) -> tuple[Document | None, list[NodeProblem]]:
    """Compose ``text`` and build its value; ``None`` if it is not YAML or is empty."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_problem(exc, text)]
    except yaml.YAMLError as exc:  # ReaderError: a control character, no mark
        return None, [NodeProblem(None, "syntax", str(exc))]
    if root is None:
        return None, []
    builder = _Builder()
    value = builder.build(root, "")
    return Document(value, builder.lines, root.start_mark.line + 1), builder.problems


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> NodeProblem:
    mark = exc.problem_mark or exc.context_mark
    line = None if mark is None else mark.line + 1
    parts = [part for part in (exc.context, exc.problem) if part]
    message = ", ".join(parts) or "not valid YAML"
    context = exc.context_mark
    if context is not None and line is not None and context.line + 1 != line:
        message += f" (it began on line {context.line + 1})"
    if line is not None:
        # The classic trap of this format: `op: >` starts a folded block scalar and
        # `op: !=` a tag. Say so rather than leave the author with scanner jargon.
        source = text.splitlines()[line - 1] if line <= len(text.splitlines()) else ""
        found = _YAML_INDICATORS.search(source)
        if found:
            value = found.group("value")
            message += f' (a value starting with {value[0]} must be quoted: "{value}")'
    return NodeProblem(line, "syntax", message)


class _Builder:
    """Walks composed nodes into dicts, lists and scalars, recording lines and problems."""

    def __init__(self) -> None:
        self.lines: dict[str, int] = {}
        self.problems: list[NodeProblem] = []
        self._constructor = SafeConstructor()
        self._active: set[int] = set()

    def build(self, node: Node, path: str) -> object:
        if id(node) in self._active:
            self._problem(node, path, "an alias refers to itself")
            return INVALID
        self._active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return [
                    self._item(item, f"{path}[{index}]") for index, item in enumerate(node.value)
                ]
            assert isinstance(node, ScalarNode)
            return self._scalar(node, path)
        finally:
            self._active.discard(id(node))

    def _item(self, node: Node, path: str) -> object:
        self.lines.setdefault(path, node.start_mark.line + 1)
        return self.build(node, path)

    def _mapping(self, node: MappingNode, path: str) -> object:
        try:
            self._constructor.flatten_mapping(node)  # applies `<<: *anchor` merges
        except yaml.MarkedYAMLError as exc:
            self._problem(node, path, exc.problem or "bad merge key")
            return INVALID
        result: dict[str, object] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = self._key(key_node, path)
            if key is None:
                continue
            where = join(path, key)
            if key in first_line:
                self.problems.append(
                    NodeProblem(line, where, f"written twice (first on line {first_line[key]})")
                )
                continue
            first_line[key] = line
            self.lines.setdefault(where, line)
            result[key] = self.build(value_node, where)
        return result

    def _key(self, node: Node, path: str) -> str | None:
        if isinstance(node, ScalarNode):
            key = self._scalar(node, path)
            if isinstance(key, str):
                return key
            if key is INVALID:
                return None
        self._problem(
            node, path or "document", f"field names must be strings, not {_source(node)!r}"
        )
        return None

    def _scalar(self, node: ScalarNode, path: str) -> object:
        try:
            return self._constructor.construct_object(node)
        except yaml.constructor.ConstructorError:
            self._problem(
                node,
                path or "document",
                f'unknown YAML tag {node.tag!r}; a value starting with ! must be quoted (op: "!=")',
            )
        except ValueError as exc:  # e.g. a timestamp-shaped value that is no date
            self._problem(node, path or "document", f"{_source(node)!r} is not valid: {exc}")
        return INVALID

    def _problem(self, node: Node, path: str, message: str) -> None:
        self.problems.append(NodeProblem(node.start_mark.line + 1, path, message))


def _source(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return str(node.value)
    return "a list" if isinstance(node, SequenceNode) else "a mapping"
