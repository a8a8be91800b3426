"""The layers hold: every import, at module level, in a function or under TYPE_CHECKING.

A newcomer adding a feature reads one direction: services at the bottom, the
fault proxy and the mesh model above them, the two backends, faults and signals,
the loader, the runner and the report, the CLI on top. A test keeps it so, since
a lazy import or a ``TYPE_CHECKING`` block hides a circle from everything else.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RANKS: dict[str, int] = {
    "services": 0,
    "chaos.proxy": 1,
    "chaos.toxiproxy": 1,
    "chaos.experiment": 1,
    "chaos.probes": 2,
    "chaos.experiments": 1,
    "chaos.journal": 1,
    "chaos.matrix": 1,
    "chaos.waterfall": 1,
    "chaos.mesh": 2,
    "chaos.node": 2,
    "chaos.testing": 3,
    "chaos.embedded": 3,
    "chaos.compose": 3,
    "chaos.swarm": 4,
    "chaos.kube": 5,
    "chaos.standalone": 3,
    "chaos.faults": 3,
    "chaos.signals": 3,
    "chaos.loader": 4,
    "chaos.runner": 5,
    "chaos.report": 5,
    "chaos.console": 6,
    "chaos.cli": 7,
    "chaos.chaostoolkit": 8,
    "chaos": 7,
}
"""Each unit imports only units of a lower rank (and itself)."""

LEAVES = (
    "chaos.experiment",
    "chaos.journal",
    "chaos.matrix",
    "chaos.experiments",
    "chaos.waterfall",
)
"""Data every layer passes around: they import nothing of chaos."""

BACKENDS = ("chaos.embedded", "chaos.compose", "chaos.swarm", "chaos.standalone", "chaos.kube")
"""Only the CLI picks a backend; the runner and the faults take a ``MeshBackend``/state.
(``chaos.kube`` only renders, from the Swarm stack's configs: Kubernetes on paper.)"""

SERVICE_DEPS: dict[str, set[str]] = {
    "common": set(),
    "dns": {"common"},
    "ntp": {"common"},
    "api": {"common"},
    "workload": {"common", "ntp", "api"},  # the client side of their wire formats
}


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in ("chaos", "services"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = modules()


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every absolute import, wherever in the file it is."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                if f"{node.module}.{alias.name}" in MODULES:
                    yield node.lineno, f"{node.module}.{alias.name}"


def unit(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "services":
        return "services"
    if parts[0] == "chaos":
        return ".".join(parts[:2])
    return None


def project_imports() -> Iterator[tuple[str, int, str]]:
    for module, path in MODULES.items():
        for line, target in imports(path):
            if unit(target) is not None:
                yield module, line, target


def where(module: str, line: int) -> str:
    return f"{MODULES[module].relative_to(ROOT)}:{line}"


def test_every_unit_has_a_rank() -> None:
    units = {unit(m) for m in MODULES}
    assert units <= set(RANKS), f"place a new package in RANKS: {sorted(units - set(RANKS))}"


def test_each_unit_imports_only_lower_ranks() -> None:
    wrong = [
        f"{where(module, line)}: {unit(module)} (rank {RANKS[unit(module) or '']}) imports "
        f"{target} (rank {RANKS[unit(target) or '']})"
        for module, line, target in project_imports()
        if unit(target) != unit(module) and RANKS[unit(target) or ""] >= RANKS[unit(module) or ""]
    ]
    assert wrong == []


def test_services_import_no_chaos_and_only_common_or_a_peer_wire() -> None:
    wrong: list[str] = []
    for module, line, target in project_imports():
        if not module.startswith("services"):
            continue
        if target.startswith("chaos"):
            wrong.append(f"{where(module, line)}: a service imports {target}")
            continue
        own = module.split(".")[1] if "." in module else ""
        other = target.split(".")[1] if "." in target else ""
        if own and other and other != own and other not in SERVICE_DEPS[own]:
            wrong.append(f"{where(module, line)}: services.{own} imports {target}")
    assert wrong == []


@pytest.mark.parametrize("leaf", LEAVES)
def test_the_data_leaves_import_nothing_of_chaos(leaf: str) -> None:
    wrong = [
        f"{where(module, line)}: {target}"
        for module, line, target in project_imports()
        if unit(module) == leaf and target.startswith("chaos") and unit(target) != leaf
    ]
    assert wrong == []


def test_only_the_cli_knows_which_backend_runs_the_mesh() -> None:
    wrong = [
        f"{where(module, line)}: {target}"
        for module, line, target in project_imports()
        if unit(target) in BACKENDS and unit(module) not in (*BACKENDS, "chaos.cli")
    ]
    assert wrong == []


def test_no_import_circle_between_modules() -> None:
    """A submodule importing its own package (a registry, say) is how packages work;
    any other circle is one."""
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, _, target in project_imports():
        if target in MODULES and target != module and not module.startswith(target + "."):
            edges[module].add(target)
    circles = _strongly_connected(edges)
    assert circles == [], circles


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_walk_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from chaos.cli import app\n"
        "def f():\n    import chaos.runner\n"
    )
    assert [t for _, t in imports(sample) if t.startswith("chaos")] == ["chaos.cli", "chaos.runner"]
