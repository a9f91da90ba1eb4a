"""Imports run one way (docs/architecture.md): ``sage_core`` imports no adapter, native
extension or recipe; ``native/`` imports no recipe or adapter; ``sage_recipes`` never imports
``sage_adapters``; the ``sage`` command line knows the recipes only through entry points."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "import_module":
            names.update(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return names


def offenders(folder: Path, forbidden: set[str]) -> dict[str, list[str]]:
    """Modules under ``folder`` that import a top-level package in ``forbidden``, with those imports
    (doctest examples included: they run in the test suite)."""
    found = {}
    for path in folder.rglob("*.py"):
        names = imported_modules(path)
        names |= {line.split()[1] for line in path.read_text().splitlines() if line.strip().startswith((">>> from ", ">>> import "))
                  for line in [line.strip()[4:]]}
        bad = sorted(m for m in names if m.split(".")[0] in forbidden)
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


def test_the_core_imports_no_adapter_extension_or_recipe():
    assert offenders(ROOT / "sage_core", {"sage_adapters", "sage_db", "sage_flow", "sage_recipes"}) == {}


def test_native_extensions_import_no_recipe_or_adapter():
    assert offenders(ROOT / "native", {"sage_adapters", "sage_recipes"}) == {}


def test_recipes_never_import_the_adapters():
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path) if m.split(".")[0] == "sage_adapters")
        for path in (ROOT / "recipes" / "sage_recipes").rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_the_langchain_operators_need_only_the_core():
    path = ROOT / "adapters" / "sage_adapters" / "langchain" / "operators.py"
    assert {m.split(".")[0] for m in imported_modules(path)} <= {"__future__", "asyncio", "typing", "sage_core"}


def test_the_command_line_does_not_name_the_recipes():
    text = (ROOT / "sage_core" / "cli.py").read_text()
    assert "sage_recipes" not in text and "sage_adapters" not in text
