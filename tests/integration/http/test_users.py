"""/users/me and the wallet over HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.http.conftest import User

pytestmark = pytest.mark.integration


def test_a_user_is_created_on_first_use_from_the_token_claims(user: User) -> None:
    """GET /users/me answers the profile made from sub, email and name, with an empty wallet."""
    answer = user.http.get("/users/me")
    assert answer.status_code == 200
    short = user.id.split("|")[-1]
    assert answer.json() == {
        "id": user.id,
        "email": f"{short}@example.com",
        "name": f"User {short}",
        "wallet": 0,
        "admin": False,
    }


def test_an_admin_is_told_so(new_user: Callable[..., User]) -> None:
    """The goat:admin permission shows in the profile."""
    assert new_user(admin=True).http.get("/users/me").json()["admin"] is True


def test_a_top_up_adds_to_the_wallet_and_answers_the_balance(user: User) -> None:
    """PUT /users/wallet adds ``amount`` and answers the new balance; GET agrees."""
    assert user.http.put("/users/wallet", json={"amount": 2500}).json() == {"wallet": 2500}
    assert user.http.put("/users/wallet", json={"amount": 500}).json() == {"wallet": 3000}
    assert user.http.get("/users/wallet").json() == {"wallet": 3000}


@pytest.mark.parametrize("amount", [0, -5, 1.5, "lots"])
def test_a_top_up_must_be_a_positive_integer(user: User, amount: object) -> None:
    """Zero, negative, fractional or non-numeric amounts are a 400 naming ``amount``."""
    answer = user.http.put("/users/wallet", json={"amount": amount})
    assert answer.status_code == 400
    assert answer.json()["field"] == "amount"
    assert user.http.get("/users/wallet").json() == {"wallet": 0}


def test_identity_never_comes_from_the_body(user: User, new_user: Callable[..., User]) -> None:
    """A top-up naming another user in the body credits the caller only."""
    other = new_user()
    user.http.put("/users/wallet", json={"amount": 1000, "user_id": other.id})
    assert other.http.get("/users/wallet").json() == {"wallet": 0}
    assert user.http.get("/users/wallet").json() == {"wallet": 1000}
