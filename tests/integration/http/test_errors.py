"""A failure nobody planned for is a 500 problem document that reveals nothing inside."""

from __future__ import annotations

from goat_adapters.memory import World
from goat_app.testing import MemoryApp
from goat_core.ports import UnitOfWork


def test_an_unexpected_error_is_a_500_problem_without_a_stack_trace() -> None:
    """A handler that blows up answers 500 with a generic detail; the internals stay in the log."""
    world = World()

    def broken() -> UnitOfWork:
        raise RuntimeError("secret internals: password=hunter2")

    # every read goes through the store's units of work
    world.store.unit_of_work = broken  # type: ignore[method-assign,assignment]  # broken on purpose
    with MemoryApp(world) as api:
        answer = api.client.get("/fixtures")
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert set(body) == {"type", "title", "status", "detail"}
    assert "hunter2" not in answer.text
    assert "Traceback" not in answer.text
