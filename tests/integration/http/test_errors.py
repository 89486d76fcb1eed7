"""A failure nobody planned for is a 500 problem document that reveals nothing inside."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient

from goat_app.compose import build_system
from goat_app.http import create_app
from goat_app.settings import Settings
from goat_core.ports import UnitOfWork


def test_an_unexpected_error_is_a_500_problem_without_a_stack_trace(tmp_path: Path) -> None:
    """A handler that blows up answers 500 with a generic detail; the internals stay in the log."""
    system = build_system(Settings(data_dir=tmp_path), public_url="http://testserver")

    def broken() -> UnitOfWork:
        raise RuntimeError("secret internals: password=hunter2")

    system.uow = broken
    try:
        with TestClient(create_app(system)) as client:
            answer = client.get("/fixtures")
    finally:
        system.close()
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert set(body) == {"type", "title", "status", "detail"}
    assert "hunter2" not in answer.text
    assert "Traceback" not in answer.text
