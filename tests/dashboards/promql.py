"""Every PromQL expression the dashboards and rules hold, and the selectors inside them.

A small lexer, enough for the expressions of this repository: it finds the vector
selectors (``metric{matchers}``) so a test can ask Prometheus whether each one
matches a series — an expression with an ``or`` fallback returns data even when one
side names a metric that does not exist; its selectors do not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "dashboards" / "rules"
GRAFANA_DIR = REPO / "dashboards" / "grafana"
PROVISIONING_DIR = REPO / "compose" / "grafana" / "provisioning"


@dataclass(frozen=True)
class Expression:
    where: str
    """``file: panel 3 target A`` — for failure messages."""
    expr: str
    kind: str
    """``panel``, ``annotation``, ``record`` or ``alert``."""
    name: str = ""
    """The recorded series or the alert's name (rules only)."""


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yaml"))


def dashboard_files() -> list[Path]:
    return sorted(GRAFANA_DIR.glob("*.json"))


def load_dashboard(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def rules() -> Iterator[tuple[Path, dict[str, Any], dict[str, Any]]]:
    """(file, group, rule) for every rule."""
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                yield path, group, rule


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboard_expressions() -> list[Expression]:
    found = []
    for path in dashboard_files():
        dashboard = load_dashboard(path)
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                where = f"{path.name}: panel {panel['id']} {panel['title']!r} {target['refId']}"
                found.append(Expression(where, target["expr"], "panel"))
        for annotation in dashboard.get("annotations", {}).get("list", []):
            if "expr" in annotation:
                where = f"{path.name}: annotation {annotation['name']!r}"
                found.append(Expression(where, annotation["expr"], "annotation"))
    return found


def rule_expressions() -> list[Expression]:
    found = []
    for path, group, rule in rules():
        name = rule.get("record") or rule["alert"]
        kind = "record" if "record" in rule else "alert"
        where = f"{path.name}: {group['name']} {name}"
        found.append(Expression(where, rule["expr"].strip(), kind, name))
    return found


# -- a lexer for selectors ---------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<matchers>\{[^}]*\})
  | (?P<range>\[[^\]]*\])
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>==|!=|<=|>=|=~|!~|[-+*/%^<>(),=])
    """,
    re.VERBOSE,
)
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
}


def _tokens(expr: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            raise ValueError(f"cannot lex {expr[pos:]!r} in {expr!r}")
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append((kind, match.group()))
        pos = match.end()
    return tokens


def selectors(expr: str) -> list[str]:
    """The vector selectors of ``expr`` as instant selectors (``name{matchers}``)."""
    tokens = _tokens(expr)
    found: list[str] = []
    index = 0
    while index < len(tokens):
        kind, text = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else ("", "")
        if kind == "ident" and text.lower() in _GROUPING and following[1] == "(":
            depth = 0
            while index < len(tokens):  # skip the label list
                if tokens[index][1] == "(":
                    depth += 1
                elif tokens[index][1] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                index += 1
        elif kind == "ident" and text.lower() not in _KEYWORDS and following[1] != "(":
            if following[0] == "matchers":
                found.append(text + following[1])
                index += 1
            else:
                found.append(text)
        elif kind == "matchers":
            found.append(text)
        index += 1
    return list(dict.fromkeys(found))


_THRESHOLD = re.compile(r"\s*(?:==|!=|<=|>=|<|>)\s*(?:bool\s+)?[-+]?[\d.]+(?:[eE][-+]?\d+)?\s*$")
_SET_OPERATOR = re.compile(r"\s+(?:and|or|unless)\s+")


def signal_parts(expr: str) -> list[str]:
    """An alert's ``<signal> <op> <number> [and <signal> <op> <number>]`` as its signals.

    Raises ValueError for any other shape: alerts are written this way so their
    signals can be checked against a live Prometheus whether or not they fire.
    """
    parts = []
    for part in _SET_OPERATOR.split(expr.strip()):
        signal, count = _THRESHOLD.subn("", part)
        if count != 1 or not signal.strip():
            raise ValueError(f"not `<signal> <op> <number>`: {part!r}")
        parts.append(signal.strip())
    return parts
