"""The YAML layer: plain values plus the line of every field path."""

from __future__ import annotations

import pytest

from chaos.loader.yamldoc import INVALID, parent, parse

TEXT = """\
# a comment first
method:
  - fault: latency
    attributes:
      latency: 800
  - {fault: loss, target: dns}
"""


def test_lines_of_keys_and_items() -> None:
    doc, problems = parse(TEXT)

    assert problems == []
    assert doc is not None
    assert doc.value == {
        "method": [
            {"fault": "latency", "attributes": {"latency": 800}},
            {"fault": "loss", "target": "dns"},
        ]
    }
    assert doc.root_line == 2
    assert doc.lines == {
        "method": 2,
        "method[0]": 3,
        "method[0].fault": 3,
        "method[0].attributes": 4,
        "method[0].attributes.latency": 5,
        "method[1]": 6,
        "method[1].fault": 6,
        "method[1].target": 6,
    }


def test_a_missing_path_takes_the_line_of_its_nearest_ancestor() -> None:
    doc, _ = parse(TEXT)
    assert doc is not None

    assert doc.line("method[0].attributes.jitter") == 4
    assert doc.line("method[0].duration") == 3
    assert doc.line("title") == 2


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("method[0].attributes.latency", "method[0].attributes"),
        ("method[0].attributes", "method[0]"),
        ("method[0]", "method"),
        ("method", ""),
        ("", ""),
    ],
)
def test_parent(path: str, expected: str) -> None:
    assert parent(path) == expected


def test_bad_values_become_invalid_and_are_reported_once() -> None:
    doc, problems = parse("a: !custom x\nb: 2024-13-45\n1: one\nc: ok\n")

    assert doc is not None
    assert doc.value == {"a": INVALID, "b": INVALID, "c": "ok"}
    assert [(p.line, p.field) for p in problems] == [(1, "a"), (2, "b"), (3, "document")]
    assert "field names must be strings, not '1'" in problems[2].message


def test_empty_text_is_no_document() -> None:
    assert parse("# only a comment\n") == (None, [])
