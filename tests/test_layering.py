"""The package's import graph: dependencies point one way, lower layers never import higher ones,
and no module reaches itself through its imports (README, "Layout").

Every import counts, including those inside functions: a lazy import still ties the lower layer
to the higher one, and still closes a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "hepgan"

# The layers from the bottom up; a module may import its own layer and those below it.
LAYERS = [
    {"errors", "strict", "recipes"},
    {"geometry"},
    {"data"},
    {"sim"},
    {"metrics", "nn"},
    {"models"},
    {"train"},
    {"report", "export", "images"},
    {"tune"},
    {"api"},
    {"quickstart"},
    {"cli"},
    {"__main__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_files() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The hepgan modules ``name`` imports (a name imported from a package counts as its module
    when it is one, else as the package)."""

    def known(target: str) -> str | None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {known(alias.name) for alias in node.names if alias.name.split(".")[0] == "hepgan"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base.split(".")[0] != "hepgan":
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules else known(base))
    return found - {None, name}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "hepgan"


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def test_every_top_level_module_has_a_layer(graph):
    unplaced = sorted({layer(m) for m in graph} - set(RANK) - {"hepgan"})
    assert not unplaced, f"place these in LAYERS: {unplaced}"


def test_no_module_imports_a_higher_layer(graph):
    upward = [f"{m} -> {t}" for m, targets in sorted(graph.items()) for t in sorted(targets)
              if layer(m) != "hepgan" and RANK.get(layer(t), -1) > RANK.get(layer(m), len(LAYERS))]
    assert not upward, "imports that run up the layers:\n" + "\n".join(upward)


def test_the_import_graph_has_no_cycle(graph):
    cycles = strongly_connected(graph)
    assert not cycles, "modules that import each other, directly or around a circle:\n" + "\n".join(
        " <-> ".join(sorted(c)) for c in cycles)


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """The components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return components


def test_the_checks_see_a_cycle_and_an_upward_import():
    """The walker itself: a made-up graph with one cycle and one module above it."""
    made_up = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(made_up) == [{"a", "b", "c"}]
    modules = module_files()
    assert "hepgan.train.trainer" in imported_modules("hepgan.tune.runner", modules["hepgan.tune.runner"], modules) \
        or "hepgan.train" in imported_modules("hepgan.tune.runner", modules["hepgan.tune.runner"], modules)
