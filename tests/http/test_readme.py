"""The README's library examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[2] / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_the_readme_has_examples() -> None:
    """The README shows the core on World and the HTTP app on MemoryApp."""
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("code", EXAMPLES, ids=lambda code: code.splitlines()[0])
def test_a_readme_example_runs(code: str) -> None:
    """Each python block of the README runs without error (its asserts included)."""
    exec(compile(code, str(README), "exec"), {})
