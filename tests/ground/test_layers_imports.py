"""Layering rules, read from the code's imports (an AST scan, so function-level imports count too).

- ``benchmark.runner`` is imported only by the runner itself, by the composition root ``benchmark/run.py``
  and by entry points (``__main__.py``): no other layer uses the runner as a utility drawer.
- No import cycle between the top-level packages of ``benchmark`` (and its ground-floor modules,
  ``ablations``, ``paper_tables``), except imports under ``if TYPE_CHECKING:``. An entry point
  (``<package>/__main__.py``) is a node of its own, not part of its package: no module imports an entry
  point (checked here too), so it closes no cycle, and a package's command may delegate to a later layer
  (``python -m benchmark.data categories`` runs the model layer's :mod:`benchmark.model.categories`).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from locations import REPO

SOURCES = sorted([*(REPO / "benchmark").rglob("*.py"), *(REPO / "ablations").rglob("*.py"), REPO / "paper_tables.py"])
RUNNER = "benchmark.runner"
COMPOSITION_ROOT = "benchmark/run.py"


# Cycles that were there before this rule and have not been untangled yet: (package, package) -> why.
def _module(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_only_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            lines |= {n.lineno for n in ast.walk(node) if hasattr(n, "lineno")}
    return lines


def _imports(path: Path) -> list[tuple[str, int]]:
    """Modules imported by ``path`` (absolute names; ``from a import b`` counts as ``a`` and ``a.b``), not type-only."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_only_lines(tree)
    me = _module(path).split(".")
    package = me if path.name == "__init__.py" else me[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and node.lineno not in skip:
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.lineno not in skip:
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append((module, node.lineno))
            found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _entry_point(path: Path) -> bool:
    rel = path.relative_to(REPO).as_posix()
    return rel == COMPOSITION_ROOT or path.name == "__main__.py"


def test_only_the_runner_the_composition_root_and_entry_points_import_the_runner() -> None:
    offenders = []
    for path in SOURCES:
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith("benchmark/runner/") or _entry_point(path):
            continue
        offenders += [
            f"{rel}:{line} imports {name}"
            for name, line in _imports(path)
            if name == RUNNER or name.startswith(RUNNER + ".")
        ]
    assert not offenders, "the runner is not a utility drawer:\n" + "\n".join(sorted(set(offenders)))


def _package(module: str) -> str | None:
    """The node of the layer graph: ``benchmark.<package or ground-floor module>``, ``ablations``, ``paper_tables``,
    or an entry point (``benchmark.<package>.__main__``) by itself."""
    parts = module.split(".")
    if parts[-1] == "__main__":
        return module
    if parts[0] in ("ablations", "paper_tables"):
        return parts[0]
    if parts[0] != "benchmark" or len(parts) == 1:
        return None
    return f"benchmark.{parts[1]}"


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in list(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_an_entry_point() -> None:
    offenders = [
        f"{path.relative_to(REPO).as_posix()}:{line} imports {name}"
        for path in SOURCES
        for name, line in _imports(path)
        if name.split(".")[-1] == "__main__" or ".__main__." in name
    ]
    assert not offenders, "entry points are run, never imported:\n" + "\n".join(sorted(set(offenders)))


def test_no_import_cycle_between_top_level_packages() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], str] = {}
    for path in SOURCES:
        source = _package(_module(path))
        for name, line in _imports(path):
            target = _package(name)
            if source and target and target != source:
                edges[source].add(target)
                where.setdefault((source, target), f"{path.relative_to(REPO).as_posix()}:{line}")
    problems = []
    for component in _cycles(edges):
        links = sorted(f"{a} -> {b} ({where[a, b]})" for a in component for b in edges[a] if b in component)
        problems.append(" <-> ".join(sorted(component)) + ":\n  " + "\n  ".join(links))
    assert not problems, "import cycles:\n" + "\n".join(problems)
