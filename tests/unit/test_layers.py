"""The import rules of the layers (docs/architecture.md), checked on every module's source.

- ``goat_core`` imports the standard library and attrs only.
- ``goat_adapters`` never imports ``goat_app``.
- ``goat_adapters.memory`` and ``goat_adapters.local`` need nothing beyond the core's
  dependencies, so a library user runs the core on them with ``pip install goat`` alone.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import goat_adapters
import goat_core

STDLIB = set(sys.stdlib_module_names) | {"__future__"}
SRC = Path(goat_core.__file__).parent.parent


def _imports(path: Path) -> set[str]:
    """Every absolute module a file imports, as dotted names (nested imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def _offenders(package: str, allowed: set[str]) -> dict[str, set[str]]:
    """Modules of ``package`` importing something outside ``allowed`` (top-level names or
    dotted prefixes), with what they import."""

    def ok(name: str) -> bool:
        parts = name.split(".")
        return any(".".join(parts[:i]) in allowed for i in range(1, len(parts) + 1))

    root = SRC / package.replace(".", "/")
    modules = sorted(root.rglob("*.py"))
    assert modules, f"no modules under {root}"
    found = {str(m.relative_to(SRC)): {i for i in _imports(m) if not ok(i)} for m in modules}
    return {name: bad for name, bad in found.items() if bad}


def test_the_core_imports_only_stdlib_and_attrs() -> None:
    """No module of goat_core imports anything but the standard library and attrs."""
    assert _offenders("goat_core", STDLIB | {"attrs", "goat_core"}) == {}


def test_adapters_never_import_the_app() -> None:
    """No adapter reaches up into goat_app (settings, composition root, HTTP)."""
    found = {
        name: {i for i in imports if i.split(".")[0] == "goat_app"}
        for name, imports in _offenders("goat_adapters", {"goat_adapters"}).items()
    }
    assert {name: bad for name, bad in found.items() if bad} == {}
    assert Path(goat_adapters.__file__).parent == SRC / "goat_adapters"


def test_the_memory_and_local_adapters_install_light() -> None:
    """The in-memory and local adapters import only the core's dependencies."""
    allowed = STDLIB | {"attrs", "goat_core", "goat_adapters.memory", "goat_adapters.local"}

    assert _offenders("goat_adapters.memory", allowed) == {}
    assert _offenders("goat_adapters.local", allowed) == {}


def test_the_check_would_catch_a_vendor_import(tmp_path: Path) -> None:
    """The import scan sees third-party imports, including nested and from-imports."""
    module = tmp_path / "bad.py"
    module.write_text("import os\nfrom sqlalchemy import orm\ndef f():\n    import paho.mqtt\n")

    assert _imports(module) - STDLIB == {"sqlalchemy", "paho.mqtt"}
