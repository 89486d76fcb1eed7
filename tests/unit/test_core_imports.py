"""goat_core is a library of its own: standard library and attrs only (CONTRACT §7)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import goat_core

ALLOWED = set(sys.stdlib_module_names) | {"attrs", "goat_core", "__future__"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_core_module_imports_only_stdlib_and_attrs() -> None:
    """No module of goat_core imports anything but the standard library and attrs."""
    root = Path(goat_core.__file__).parent
    modules = sorted(root.rglob("*.py"))
    assert len(modules) >= 6

    offenders = {m.name: _imports(m) - ALLOWED for m in modules if _imports(m) - ALLOWED}

    assert offenders == {}


def test_the_check_would_catch_a_vendor_import(tmp_path: Path) -> None:
    """The import scan sees third-party imports, including nested and from-imports."""
    module = tmp_path / "bad.py"
    module.write_text("import os\nfrom sqlalchemy import orm\ndef f():\n    import paho.mqtt\n")

    assert _imports(module) - ALLOWED == {"sqlalchemy", "paho"}
