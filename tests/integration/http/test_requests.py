"""Purchases over HTTP: POST/GET /requests, PATCH /requests/validate and receipts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from goat_core.model import Fixture
from goat_core.services import Exchange
from tests.integration.http.conftest import User
from tests.integration.http.support import LiveApi

pytestmark = pytest.mark.integration


def test_a_wallet_purchase_is_created_pending_and_debits_the_wallet(
    user: User, seed: Callable[..., Fixture]
) -> None:
    """POST /requests by wallet answers 201 with the purchase, no payment, and costs 1000 a bond."""
    fixture = seed()
    user.top_up(5000)
    answer = user.buy(fixture, quantity=3)
    assert answer.status_code == 201
    body = answer.json()
    assert body["payment"] is None
    purchase = body["request"]
    assert (purchase["status"], purchase["quantity"], purchase["result"]) == ("pending", 3, "home")
    assert (purchase["league_name"], purchase["round"]) == ("Premier League", "Regular Season - 12")
    assert purchase["group_id"] == "15"
    assert user.http.get("/users/wallet").json() == {"wallet": 2000}
    assert user.http.get(f"/fixtures/{fixture.id}").json()["available_bonds"] == 37


def test_a_known_callers_purchase_is_answered_as_a_new_callers_is(
    user: User, seed: Callable[..., Fixture], core: Exchange
) -> None:
    """A caller's first purchase goes through the handler (its token is verified then);
    later ones are answered before it (``purchases_first``): the same 201 document and
    headers, and the same problem document for a refusal."""
    fixture = seed()
    core.top_up(user.id, 3000)  # not over HTTP: the API has not seen the token yet
    first = user.buy(fixture, quantity=1)  # the token is new: the handler verifies it
    later = user.buy(fixture, quantity=1)
    for answer in (first, later):
        assert answer.status_code == 201, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["x-request-id"]
    mine = {"request_id", "created_at", "updated_at"}
    assert {k: v for k, v in first.json()["request"].items() if k not in mine} == {
        k: v for k, v in later.json()["request"].items() if k not in mine
    }
    assert first.json()["payment"] is later.json()["payment"] is None
    refused = user.buy(fixture, quantity=5)  # 1,000 CLP left
    assert refused.status_code == 402
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:goat:problem:not-enough-money"


def test_a_known_callers_malformed_body_reaches_the_handler_whole(user: User) -> None:
    """A body the early answer does not take (a wrongly typed field) goes on to the
    handler as it came: its 400 names the field."""
    user.top_up(1000)  # the token is known from here on
    answer = user.http.post(
        "/requests", json={"fixture_id": 1, "result": "home", "quantity": 1, "wallet": "maybe"}
    )
    assert answer.status_code == 400
    assert answer.json()["field"] == "wallet"


def test_the_first_authorization_header_decides_for_a_known_caller_too(
    user: User, api: LiveApi, seed: Callable[..., Fixture]
) -> None:
    """A known token in a second ``Authorization`` header buys nothing: the first header
    (not a bearer token) is the caller's, a 401, as the handler answers it."""
    fixture = seed()
    user.top_up(1000)  # the token is known from here on
    headers = [
        ("Authorization", "Basic YWxpY2U6c2VjcmV0"),
        ("Authorization", f"Bearer {user.token}"),
    ]
    body = {"fixture_id": fixture.id, "result": "home", "quantity": 1, "wallet": True}
    with httpx.Client(base_url=api.url, timeout=10) as client:
        answer = client.post("/requests", json=body, headers=headers)
    assert answer.status_code == 401
    assert user.http.get("/users/wallet").json() == {"wallet": 1000}


def test_the_original_extra_fields_are_accepted_and_ignored(
    user: User, seed: Callable[..., Fixture]
) -> None:
    """Group, league, round, dates and a user id sent in the body change nothing."""
    fixture = seed()
    user.top_up(1000)
    answer = user.buy(
        fixture,
        group_id=99,
        league_name="Fake League",
        round="Round 1",
        date="1999-01-01",
        datetime="1999-01-01T00:00:00 UTC",
        deposit_token="",
        seller=0,  # a user's purchase; a seller is for an admin's group purchase (§4b)
        user_id="someone-else",
        request_id="chosen-by-client",
    )
    assert answer.status_code == 201
    purchase = answer.json()["request"]
    assert purchase["group_id"] == "15"
    assert purchase["league_name"] == "Premier League"
    assert purchase["user_id"] == user.id
    assert purchase["request_id"] != "chosen-by-client"


def test_the_result_may_be_a_team_name_or_three_dashes(
    user: User, seed: Callable[..., Fixture]
) -> None:
    """``result`` accepts the away team's name and ``---`` as the broker writes them."""
    fixture = seed()
    user.top_up(2000)
    away = user.http.post(
        "/requests",
        json={"fixture_id": fixture.id, "result": fixture.away.name, "quantity": 1, "wallet": True},
    )
    draw = user.http.post(
        "/requests",
        json={"fixture_id": fixture.id, "result": "---", "quantity": 1, "wallet": True},
    )
    assert away.json()["request"]["result"] == "away"
    assert draw.json()["request"]["result"] == "draw"


def test_an_unknown_result_is_a_422_naming_result(user: User, seed: Callable[..., Fixture]) -> None:
    """A result that is neither team, a draw nor home/away is refused, naming the field."""
    fixture = seed()
    answer = user.http.post(
        "/requests",
        json={"fixture_id": fixture.id, "result": "Nobody FC", "quantity": 1, "wallet": True},
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == "result"


def test_an_unknown_fixture_is_a_404(user: User) -> None:
    """Buying on a fixture nobody sent answers 404."""
    answer = user.http.post(
        "/requests", json={"fixture_id": 7, "result": "home", "quantity": 1, "wallet": True}
    )
    assert answer.status_code == 404
    assert answer.json()["type"] != "about:blank"


def test_more_bonds_than_available_is_a_409(user: User, seed: Callable[..., Fixture]) -> None:
    """Asking for more bonds than are left answers 409 and takes nothing."""
    fixture = seed()
    user.top_up(40_000)
    assert user.buy(fixture, quantity=39).status_code == 201
    answer = user.buy(fixture, quantity=2)
    assert answer.status_code == 409
    assert user.http.get(f"/fixtures/{fixture.id}").json()["available_bonds"] == 1


def test_not_enough_money_is_a_402_and_changes_nothing(
    user: User, seed: Callable[..., Fixture]
) -> None:
    """A wallet that cannot pay answers 402; the bonds and the balance stay as they were."""
    fixture = seed()
    user.top_up(1000)
    answer = user.buy(fixture, quantity=2)
    assert answer.status_code == 402
    assert answer.json()["status"] == 402
    assert user.http.get("/users/wallet").json() == {"wallet": 1000}
    assert user.http.get(f"/fixtures/{fixture.id}").json()["available_bonds"] == 40


def test_a_started_fixture_is_a_422(user: User, seed: Callable[..., Fixture]) -> None:
    """A fixture that has kicked off is no longer on sale."""
    fixture = seed(kickoff=datetime.now(UTC) - timedelta(minutes=5), status="1H")
    user.top_up(1000)
    answer = user.buy(fixture)
    assert answer.status_code == 422
    assert "started" in answer.json()["detail"]


def test_a_missing_field_is_a_400_naming_it(user: User) -> None:
    """A body without ``quantity`` is refused with the field named."""
    answer = user.http.post("/requests", json={"fixture_id": 1, "result": "home", "wallet": True})
    assert answer.status_code == 400
    assert answer.json()["field"] == "quantity"


def test_a_wrongly_typed_field_is_a_400_naming_it(user: User) -> None:
    """``wallet`` must be a boolean."""
    answer = user.http.post(
        "/requests", json={"fixture_id": 1, "result": "home", "quantity": 1, "wallet": "maybe"}
    )
    assert answer.status_code == 400
    assert answer.json()["field"] == "wallet"


def test_the_list_shows_own_purchases_newest_first_and_filters_by_status(
    user: User, seed: Callable[..., Fixture]
) -> None:
    """GET /requests pages the caller's purchases newest first; ``status`` filters them."""
    fixture = seed()
    user.top_up(3000)
    first = user.buy(fixture).json()["request"]["request_id"]
    second = user.buy(fixture).json()["request"]["request_id"]
    third = user.buy(fixture, wallet=False).json()["request"]["request_id"]
    listed = user.http.get("/requests").json()
    assert [r["request_id"] for r in listed["requests"]] == [third, second, first]
    assert (listed["total"], listed["page"], listed["count"]) == (3, 1, 25)
    pending = user.http.get("/requests", params={"status": "pending"}).json()
    assert [r["request_id"] for r in pending["requests"]] == [second, first]
    paged = user.http.get("/requests", params={"count": 1, "page": 2}).json()
    assert [r["request_id"] for r in paged["requests"]] == [second]


def test_an_unknown_status_filter_is_a_400(user: User) -> None:
    """``status`` must be one of the purchase statuses."""
    answer = user.http.get("/requests", params={"status": "bogus"})
    assert answer.status_code == 400
    assert answer.json()["field"] == "status"


def test_an_admin_may_list_another_users_purchases_and_a_user_may_not(
    user: User, new_user: Callable[..., User], seed: Callable[..., Fixture]
) -> None:
    """``user_id`` is honoured for admins only; others get 403."""
    fixture = seed()
    user.top_up(1000)
    bought = user.buy(fixture).json()["request"]["request_id"]
    admin, other = new_user(admin=True), new_user()
    seen = admin.http.get("/requests", params={"user_id": user.id}).json()
    assert [r["request_id"] for r in seen["requests"]] == [bought]
    assert other.http.get("/requests", params={"user_id": user.id}).status_code == 403


def test_the_owner_and_an_admin_see_a_purchase(
    user: User, new_user: Callable[..., User], seed: Callable[..., Fixture]
) -> None:
    """GET /requests/{id} answers the purchase to its owner and to an admin."""
    fixture = seed()
    user.top_up(1000)
    request_id = user.buy(fixture).json()["request"]["request_id"]
    assert user.http.get(f"/requests/{request_id}").json()["request_id"] == request_id
    assert new_user(admin=True).http.get(f"/requests/{request_id}").status_code == 200


def test_an_admin_validation_accepts_a_pending_purchase_once(
    user: User, new_user: Callable[..., User], seed: Callable[..., Fixture]
) -> None:
    """PATCH /requests/validate has the broker's effect; applying it again changes nothing."""
    fixture = seed()
    user.top_up(1000)
    request_id = user.buy(fixture).json()["request"]["request_id"]
    admin = new_user(admin=True)
    message = {"request_id": request_id, "group_id": 15, "seller": 0, "valid": True}
    assert admin.http.patch("/requests/validate", json=message).json() == {"changed": True}
    assert admin.http.patch("/requests/validate", json=message).json() == {"changed": False}
    assert user.http.get(f"/requests/{request_id}").json()["status"] == "accepted"


def test_a_rejecting_validation_refunds_the_wallet_and_the_bonds(
    user: User, new_user: Callable[..., User], seed: Callable[..., Fixture]
) -> None:
    """A negative validation gives back the money and the bonds."""
    fixture = seed()
    user.top_up(2000)
    request_id = user.buy(fixture, quantity=2).json()["request"]["request_id"]
    message = {"request_id": request_id, "group_id": "15", "valid": False}
    new_user(admin=True).http.patch("/requests/validate", json=message)
    assert user.http.get(f"/requests/{request_id}").json()["status"] == "rejected"
    assert user.http.get("/users/wallet").json() == {"wallet": 2000}
    assert user.http.get(f"/fixtures/{fixture.id}").json()["available_bonds"] == 40


def test_only_admins_validate(user: User) -> None:
    """A user without goat:admin gets 403 from PATCH /requests/validate."""
    message = {"request_id": "x", "group_id": "15", "valid": True}
    answer = user.http.patch("/requests/validate", json=message)
    assert answer.status_code == 403
    assert answer.json()["title"] == "Forbidden"


def test_a_receipt_is_409_before_acceptance_202_while_made_then_a_url(
    api: LiveApi, user: User, new_user: Callable[..., User], seed: Callable[..., Fixture]
) -> None:
    """GET /requests/{id}/receipt: 409 pending, 202 accepted without a file, then its URL."""
    fixture = seed()
    user.top_up(1000)
    request_id = user.buy(fixture).json()["request"]["request_id"]
    assert user.http.get(f"/requests/{request_id}/receipt").status_code == 409
    message = {"request_id": request_id, "group_id": "15", "valid": True}
    new_user(admin=True).http.patch("/requests/validate", json=message)
    assert user.http.get(f"/requests/{request_id}/receipt").status_code == 202
    # what the receipt job of a later issue will do: store the document under the data dir
    receipts = api.data_dir / "receipts"
    receipts.mkdir(exist_ok=True)
    (receipts / f"{request_id}.pdf").write_bytes(b"%PDF-1.4 test receipt")
    answer = user.http.get(f"/requests/{request_id}/receipt")
    assert answer.status_code == 200
    url = answer.json()["url"]
    assert httpx.get(url).content == b"%PDF-1.4 test receipt"


def test_another_users_receipt_is_a_404(
    user: User, new_user: Callable[..., User], seed: Callable[..., Fixture]
) -> None:
    """Receipts are for the owner only."""
    fixture = seed()
    user.top_up(1000)
    request_id = user.buy(fixture).json()["request"]["request_id"]
    assert new_user().http.get(f"/requests/{request_id}/receipt").status_code == 404
