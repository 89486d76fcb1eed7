"""The real HTTP app over the in-memory adapters (``goat_app.testing.MemoryApp``): no server,
no database; each test gets its own app with one upcoming fixture (id 1, Arsenal v Chelsea).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from goat_adapters.memory import make_fixture
from goat_app.testing import MemoryApp

ALICE = "alice@example.com"
BOB = "bob@example.com"
BOSS = "boss@example.com"


@pytest.fixture
def api() -> Iterator[MemoryApp]:
    """A fresh app whose world holds fixture 1, on sale."""
    with MemoryApp() as running:
        running.world.add_fixtures(make_fixture(1))
        yield running


def buy(
    api: MemoryApp, email: str, *, quantity: int = 1, wallet: bool = True, result: str = "home"
) -> dict[str, object]:
    """POST /requests for fixture 1 as ``email``; the answer's body (the purchase is asserted)."""
    body = {"fixture_id": 1, "result": result, "quantity": quantity, "wallet": wallet}
    answer = api.client.post("/requests", json=body, headers=api.headers_for(email))
    assert answer.status_code == 201, answer.text
    created: dict[str, object] = answer.json()
    return created


def request_id_of(created: dict[str, object]) -> str:
    """The request id of a purchase answered by POST /requests."""
    request = created["request"]
    assert isinstance(request, dict)
    return str(request["request_id"])
