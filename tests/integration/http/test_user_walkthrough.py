"""What a demanding user of the API and the README tried, and what it must answer.

Each test pins one behaviour found wrong (or relied on by the README) while walking
CONTRACT §4 against a running server: numbers too large for the database, blank query
values sent by a search form, bodies that are absent, nested too deeply or too large,
receipts readable by anyone who knew a request id.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from goat_core.model import Fixture
from goat_core.services import Exchange
from tests.integration.http.conftest import User
from tests.integration.http.support import LiveApi

pytestmark = pytest.mark.integration

TOO_BIG = 2**63  # one more than a database BIGINT holds


def test_a_json_body_sent_without_a_json_content_type_is_read(
    user: User, seed: Callable[..., Fixture]
) -> None:
    """``curl -d '{...}'`` (form content type, as in the README) is read as the JSON it is."""
    fixture = seed()
    form = {"content-type": "application/x-www-form-urlencoded"}
    top_up = user.http.put("/users/wallet", content=b'{"amount": 2000}', headers=form)
    assert top_up.json() == {"wallet": 2000}
    body = {"fixture_id": fixture.id, "result": "home", "quantity": 2, "wallet": True}
    bought = user.http.post("/requests", content=json.dumps(body).encode(), headers=form)
    assert bought.status_code == 201, bought.text


def test_a_fixture_id_that_is_not_a_number_is_a_400_naming_it(anonymous: httpx.Client) -> None:
    """``/fixtures/abc`` is a bad parameter (400 naming ``fixture_id``), not an unknown route."""
    answer = anonymous.get("/fixtures/abc")
    assert answer.status_code == 400
    assert answer.json()["field"] == "fixture_id"


def test_a_fixture_id_too_large_for_the_database_is_a_400_not_a_500(
    anonymous: httpx.Client, user: User
) -> None:
    """A fixture id beyond 64 bits, in the path or in a purchase, is a 400 naming it."""
    in_path = anonymous.get(f"/fixtures/{TOO_BIG}")
    assert in_path.status_code == 400
    assert in_path.json()["field"] == "fixture_id"
    body = {"fixture_id": TOO_BIG, "result": "home", "quantity": 1, "wallet": True}
    in_body = user.http.post("/requests", json=body)
    assert in_body.status_code == 400
    assert in_body.json()["field"] == "fixture_id"


def test_a_validation_with_a_huge_seller_or_no_request_id_is_a_400(
    new_user: Callable[..., User],
) -> None:
    """PATCH /requests/validate refuses a seller beyond 64 bits and an empty request id."""
    admin = new_user(admin=True)
    huge = {"request_id": "r-huge-seller", "group_id": "15", "valid": True, "seller": TOO_BIG}
    answer = admin.http.patch("/requests/validate", json=huge)
    assert answer.status_code == 400
    assert answer.json()["field"] == "seller"
    empty = admin.http.patch(
        "/requests/validate", json={"request_id": "", "group_id": "15", "valid": True}
    )
    assert empty.status_code == 400
    assert empty.json()["field"] == "request_id"


def test_a_huge_top_up_is_a_400_naming_amount(user: User) -> None:
    """An amount beyond what one top-up may add is refused before it reaches the database."""
    answer = user.http.put("/users/wallet", json={"amount": 10**23})
    assert answer.status_code == 400
    assert answer.json()["field"] == "amount"
    assert user.http.get("/users/wallet").json() == {"wallet": 0}


def test_a_wallet_stops_at_its_cap_and_stays_a_whole_number(user: User, core: Exchange) -> None:
    """A top-up past 10**15 CLP is a 422 naming ``amount``; the balance stays an exact integer."""
    user.top_up(1)  # the user exists
    core.top_up(user.id, 10**15 - 11)
    over = user.http.put("/users/wallet", json={"amount": 11})
    assert over.status_code == 422
    assert over.json()["field"] == "amount"
    assert user.http.put("/users/wallet", json={"amount": 10}).json() == {"wallet": 10**15}
    balance = user.http.get("/users/wallet").json()["wallet"]
    assert isinstance(balance, int)
    assert balance == 10**15


def test_blank_query_values_mean_no_filter(
    anonymous: httpx.Client, user: User, seed: Callable[..., Fixture]
) -> None:
    """A search form's ``?home=&away=&date=`` and ``?status=&user_id=`` are answered unfiltered."""
    seed()
    fixtures = anonymous.get("/fixtures", params={"home": "", "away": "", "date": "", "count": ""})
    assert fixtures.status_code == 200, fixtures.text
    assert fixtures.json()["count"] == 25
    assert fixtures.json()["total"] >= 1
    requests = user.http.get("/requests", params={"status": "", "user_id": "", "page": ""})
    assert requests.status_code == 200, requests.text
    assert (requests.json()["page"], requests.json()["total"]) == (1, 0)


def test_json_nested_too_deeply_is_a_400_not_a_500(user: User) -> None:
    """A small body of thousands of nested arrays is malformed input, not a server failure."""
    answer = user.http.post(
        "/requests",
        content=b"[" * 30_000 + b"]" * 30_000,
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["field"] == "body"


def test_a_missing_or_non_object_body_names_the_body(user: User) -> None:
    """No body, or a JSON array, is a 400 about ``body`` (never Litestar's internal ``data``)."""
    empty = user.http.post("/requests", content=b"", headers={"content-type": "application/json"})
    assert empty.status_code == 400
    assert empty.json()["field"] == "body"
    assert empty.json()["detail"] == "body: a JSON body is required"
    array = user.http.post("/requests", json=[])
    assert array.status_code == 400
    assert array.json()["field"] == "body"
    assert "data" not in array.json()["detail"]


def test_a_too_large_body_says_the_limit(user: User) -> None:
    """The 413 problem tells the caller how large a body may be."""
    answer = user.http.put(
        "/users/wallet", content=b" " * 70_000, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["detail"] == "the body may be at most 65536 bytes"


def test_a_receipt_file_opens_only_with_the_url_its_owner_was_given(
    api: LiveApi,
    user: User,
    new_user: Callable[..., User],
    anonymous: httpx.Client,
    seed: Callable[..., Fixture],
) -> None:
    """Request ids are public on the broker: ``/receipts/{id}.pdf`` without its signature is 404."""
    user.top_up(1000)
    request_id = user.buy(seed()).json()["request"]["request_id"]
    message = {"request_id": request_id, "group_id": "15", "valid": True}
    new_user(admin=True).http.patch("/requests/validate", json=message)
    receipts = api.data_dir / "receipts"
    receipts.mkdir(exist_ok=True)
    (receipts / f"{request_id}.pdf").write_bytes(b"%PDF-1.4 private receipt")
    url = user.http.get(f"/requests/{request_id}/receipt").json()["url"]
    assert httpx.get(url).content == b"%PDF-1.4 private receipt"
    assert anonymous.get(f"/receipts/{request_id}.pdf").status_code == 404
    forged = anonymous.get(f"/receipts/{request_id}.pdf", params={"sig": "0" * 64})
    assert forged.status_code == 404
    assert b"private" not in forged.content
