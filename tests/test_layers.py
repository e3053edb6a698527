"""The import rules of shared/DESIGN.md: nothing imports upward."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "chamberlain"

# For each layer, the project packages/modules it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "policy": set(),
    "crypto": set(),
    "domain": set(),
    "store": {"domain"},
    "ops": {"policy", "crypto", "store", "domain"},
    "protocol": {"crypto"},
    "agent": set(),  # talks to the server over the wire only
    "middleware": set(),  # likewise: POST /v1/authorize over HTTP
    # The advisor reads through ops and asks the engine; its CLI reads the settings.
    "advisor": {"ops", "policy", "domain", "config"},
    # The console calls operations as the signed-in principal, decoding its forms with the
    # wire model's validation (protocol), and shows the advisor's findings; never the store.
    "console": {"ops", "policy", "crypto", "domain", "protocol", "advisor"},
}

# Who may import the advisor: the command line and the console (nothing below them may).
ADVISOR_IMPORTERS = {"cli", "advisor", "console"}


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "chamberlain" and len(parts) > 1:
                found.add(parts[1])
    return found


FILES = sorted(p for p in SRC.rglob("*.py") if _layer(p) in ALLOWED)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_upward_imports(path: Path) -> None:
    layer = _layer(path)
    bad = _imports(path) - ALLOWED[layer] - {layer}
    assert not bad, f"{path.relative_to(SRC)} ({layer}) imports {sorted(bad)}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(("chamberlain", *parts)).removesuffix(".__init__")


def test_no_import_cycles() -> None:
    """Modules import each other in one direction only (no module imports one that,
    directly or not, imports it back)."""
    paths = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from pkg import mod` imports the module mod; `from pkg import name`, pkg.
                submodules = [f"{node.module}.{a.name}" for a in node.names]
                candidates = [m for m in submodules if m in paths]
                if len(candidates) < len(submodules):
                    candidates.append(node.module)
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            else:
                continue
            graph[name].update(c for c in candidates if c in paths and c != name)
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycle = [*trail[trail.index(name) :], name]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


ALL_FILES = sorted(p for p in SRC.rglob("*.py") if p.parent != SRC or p.name != "__init__.py")


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_only_the_cli_imports_the_advisor(path: Path) -> None:
    layer = _layer(path)
    if layer in ADVISOR_IMPORTERS:
        return
    assert "advisor" not in _imports(path), f"{path.relative_to(SRC)} imports the advisor"
