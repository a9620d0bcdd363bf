"""The import rules of docs/ARCHITECTURE.md, checked on the source: imports flow one way
(top -> studies -> core -> base), no study imports another, nothing imports upwards, no cycles.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lib" / "initlab"
LAYERS = {"base": 0, "core": 1, "studies": 2, "top": 3}
BASE = ("initlab.paths", "initlab.machine", "initlab.seeds", "initlab.settings", "initlab.registry",
        "initlab.tempfiles", "initlab.data", "initlab.catalog",
        "initlab.models")
CORE = ("initlab.training", "initlab.inits", "initlab.metrics", "initlab.store",
        "initlab.tables", "initlab.plots")


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package is its __init__)."""
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def layer(module: str) -> str:
    if module.startswith(BASE):
        return "base"
    if module.startswith(CORE):
        return "core"
    return "studies" if module.startswith("initlab.studies.") else "top"


def study_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "studies" else None


def imports(path: Path, known: set[str]) -> set[str]:
    """The package modules `path` imports anywhere in its body (function-level included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("initlab")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("initlab"):
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return found & known


def graph() -> dict[str, set[str]]:
    names = module_names()
    return {name: imports(path, set(names)) - {name} for name, path in names.items()}


def violations(edges: dict[str, set[str]]) -> list[str]:
    """Every forbidden edge: upwards across layers, or from one study into another."""
    found = []
    for source, targets in edges.items():
        for target in sorted(targets):
            if LAYERS[layer(target)] > LAYERS[layer(source)]:
                found.append(f"{source} ({layer(source)}) imports {target} ({layer(target)})")
            elif study_of(source) and study_of(target) and study_of(source) != study_of(target):
                found.append(f"study {source} imports another study's {target}")
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles (depth-first search; each cycle reported once from where it closes)."""
    found, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                found.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_the_package_follows_the_import_rules():
    edges = graph()
    assert len(edges) > 40 and "initlab.studies.warm_start.runs" in edges
    assert violations(edges) == []


def test_the_package_has_no_import_cycle():
    assert cycles(graph()) == []


@pytest.mark.parametrize("source, target, message", [
    ("initlab.training.fit", "initlab.studies.warm_start.runs", "(core) imports"),
    ("initlab.data.sets", "initlab.training.fit", "(base) imports"),
    ("initlab.studies.warm_start.runs", "initlab.studies.clustered_init.tasks", "another study"),
    ("initlab.metrics.agop", "initlab.runner", "(top)"),
])
def test_a_forbidden_import_is_caught(source, target, message):
    edges = graph()
    edges[source] = edges[source] | {target}
    assert any(message in v and source in v for v in violations(edges))


def test_a_cycle_is_caught():
    edges = graph()
    edges["initlab.training.recipe"] = edges["initlab.training.recipe"] | {"initlab.training.fit"}
    assert any("initlab.training.recipe" in c for c in cycles(edges))
