"""Purchases through the HTTP app on memory adapters: buying, seeing, and who may see what."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from goat_adapters.memory import make_fixture
from goat_app.auth import Identity
from goat_app.http import app as app_module
from goat_app.http.common import provide_identity
from goat_app.testing import MemoryApp
from goat_core.wire import TOPIC_REQUESTS
from tests.http.conftest import ALICE, BOB, BOSS, buy, request_id_of


def test_a_wallet_purchase_debits_the_wallet_and_is_announced(api: MemoryApp) -> None:
    """By wallet: 201 pending, the cost leaves the wallet, the bonds leave the fixture, and
    the request is queued for the broker."""
    api.world.fund(api.user_id(ALICE), 5000)

    created = buy(api, ALICE, quantity=2)

    request = created["request"]
    assert isinstance(request, dict)
    assert (request["status"], request["quantity"], request["result"]) == ("pending", 2, "home")
    assert created["payment"] is None
    assert api.world.balance(api.user_id(ALICE)) == 3000
    assert api.world.available(1) == 38
    assert [m["request_id"] for m in api.world.published(TOPIC_REQUESTS)] == [request["request_id"]]


def test_a_team_name_is_read_as_the_result_it_backs(api: MemoryApp) -> None:
    """``result`` may be a team of the fixture: "Chelsea" is a bet on the away side."""
    api.world.fund(api.user_id(ALICE), 1000)

    request = buy(api, ALICE, result="Chelsea")["request"]

    assert isinstance(request, dict)
    assert request["result"] == "away"


def test_an_empty_wallet_is_a_402_problem_and_changes_nothing(api: MemoryApp) -> None:
    """Buying by wallet without the money answers 402 and leaves the bonds on sale."""
    body = {"fixture_id": 1, "result": "home", "quantity": 1, "wallet": True}

    answer = api.client.post("/requests", json=body, headers=api.headers_for(ALICE))

    assert answer.status_code == 402
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["status"] == 402
    assert api.world.available(1) == 40


def test_an_unknown_fixture_is_a_404_and_a_started_one_a_422(api: MemoryApp) -> None:
    """No such fixture: 404; a fixture whose kick-off has passed: 422."""
    api.world.fund(api.user_id(ALICE), 5000)
    headers = api.headers_for(ALICE)
    body = {"result": "home", "quantity": 1, "wallet": True}

    unknown = api.client.post("/requests", json={**body, "fixture_id": 99}, headers=headers)
    api.world.clock.advance(days=5)  # past fixture 1's kick-off
    started = api.client.post("/requests", json={**body, "fixture_id": 1}, headers=headers)

    assert unknown.status_code == 404
    assert started.status_code == 422


def test_more_bonds_than_are_left_is_a_409(api: MemoryApp) -> None:
    """Asking for more bonds than the fixture has left answers 409."""
    api.world.add_fixtures(make_fixture(2))
    api.world.fund(api.user_id(ALICE), 100_000)
    api.world.peer_request("peer-1", fixture_id=2, quantity=39)
    body = {"fixture_id": 2, "result": "home", "quantity": 2, "wallet": True}

    answer = api.client.post("/requests", json=body, headers=api.headers_for(ALICE))

    assert answer.status_code == 409


def test_another_users_purchase_is_a_404_but_an_admin_sees_it(api: MemoryApp) -> None:
    """Bob gets the same 404 as for an id that does not exist; an admin gets the purchase."""
    api.world.fund(api.user_id(ALICE), 1000)
    request_id = request_id_of(buy(api, ALICE))

    bobs = api.client.get(f"/requests/{request_id}", headers=api.headers_for(BOB))
    admins = api.client.get(f"/requests/{request_id}", headers=api.headers_for(BOSS, admin=True))

    assert bobs.status_code == 404
    assert bobs.json()["title"] == "Not Found"
    assert admins.status_code == 200
    assert admins.json()["request_id"] == request_id


def test_each_user_lists_only_their_own_purchases(api: MemoryApp) -> None:
    """GET /requests is the caller's own list; naming another user is for admins (403)."""
    api.world.fund(api.user_id(ALICE), 1000)
    request_id = request_id_of(buy(api, ALICE))

    own = api.client.get("/requests", headers=api.headers_for(ALICE)).json()
    bobs = api.client.get("/requests", headers=api.headers_for(BOB)).json()
    snooping = api.client.get(
        "/requests", params={"user_id": api.user_id(ALICE)}, headers=api.headers_for(BOB)
    )
    admin = api.client.get(
        "/requests",
        params={"user_id": api.user_id(ALICE)},
        headers=api.headers_for(BOSS, admin=True),
    ).json()

    assert [r["request_id"] for r in own["requests"]] == [request_id]
    assert bobs["requests"] == []
    assert snooping.status_code == 403
    assert [r["request_id"] for r in admin["requests"]] == [request_id]


def test_validating_by_hand_is_for_admins_only(api: MemoryApp) -> None:
    """PATCH /requests/validate: 403 for a user; an admin's verdict accepts the purchase."""
    api.world.fund(api.user_id(ALICE), 1000)
    request_id = request_id_of(buy(api, ALICE))
    verdict = {"request_id": request_id, "group_id": "15", "valid": True}

    refused = api.client.patch("/requests/validate", json=verdict, headers=api.headers_for(ALICE))
    applied = api.client.patch(
        "/requests/validate", json=verdict, headers=api.headers_for(BOSS, admin=True)
    )

    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:goat:problem:forbidden"
    assert applied.json() == {"changed": True}
    assert api.world.purchase(request_id).status == "accepted"


def test_dead_letters_are_for_admins_only(api: MemoryApp) -> None:
    """GET /admin/dead-letters: 401 without a token, 403 for a user, the list for an admin."""
    api.world.exchange.keep_dead_letter("fixtures/info", "{broken", "not JSON")

    anonymous = api.client.get("/admin/dead-letters")
    user = api.client.get("/admin/dead-letters", headers=api.headers_for(ALICE))
    admin = api.client.get("/admin/dead-letters", headers=api.headers_for(BOSS, admin=True))

    assert (anonymous.status_code, user.status_code) == (401, 403)
    assert [d["reason"] for d in admin.json()["dead_letters"]] == ["not JSON"]


def test_a_known_callers_purchase_is_answered_before_the_handler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The handler resolves the caller of a token's first purchase; later ones are
    answered before it (``purchases_first``), so its dependencies are not resolved."""
    resolved: list[str] = []

    @functools.wraps(provide_identity)
    async def counting(*args: Any, **kwargs: Any) -> Identity:
        resolved.append("identity")
        return await provide_identity(*args, **kwargs)

    monkeypatch.setattr(app_module, "provide_identity", counting)
    with MemoryApp() as api:
        api.world.add_fixtures(make_fixture(1))
        api.system.exchange.top_up(MemoryApp.user_id(ALICE), 5000)  # not over HTTP
        buy(api, ALICE)
        assert resolved == ["identity"]
        buy(api, ALICE)
        buy(api, ALICE)
    assert resolved == ["identity"]
