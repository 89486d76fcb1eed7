"""Paying through the Webpay sandbox: create, the three return shapes, commit, the return page."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from goat_core.model import Fixture
from tests.integration.http.conftest import User

pytestmark = pytest.mark.integration


def _press(payment_url: str, button: str) -> dict[str, str]:
    """Press a button of the sandbox page; return the query Webpay sends to the return URL."""
    answer = httpx.post(f"{payment_url}/{button}")
    assert answer.status_code == 303
    return dict(parse_qsl(urlsplit(answer.headers["location"]).query))


def _webpay_purchase(user: User, fixture: Fixture, quantity: int = 2) -> tuple[str, dict[str, str]]:
    answer = user.buy(fixture, quantity=quantity, wallet=False)
    assert answer.status_code == 201
    body = answer.json()
    assert body["request"]["status"] == "pending_payment"
    return body["request"]["request_id"], body["payment"]


def test_the_sandbox_page_offers_approve_reject_and_cancel(
    user: User, seed: Callable[..., Fixture]
) -> None:
    """The payment URL shows a page with the three buttons and the amount."""
    _, payment = _webpay_purchase(user, seed())
    page = httpx.get(payment["url"]).text
    for button in ("Approve", "Reject", "Cancel"):
        assert f"<button>{button}</button>" in page
    assert "2000 CLP" in page


def test_webpay_create_answers_the_open_payment(user: User, seed: Callable[..., Fixture]) -> None:
    """POST /webpay/create gives the same URL and token the purchase was created with."""
    request_id, payment = _webpay_purchase(user, seed())
    answer = user.http.post("/webpay/create", json={"request_id": request_id})
    assert answer.status_code == 200
    assert answer.json() == payment


def test_webpay_create_for_someone_elses_purchase_is_a_404(
    user: User, new_user: Callable[..., User], seed: Callable[..., Fixture]
) -> None:
    """Only the owner may pay a purchase."""
    request_id, _ = _webpay_purchase(user, seed())
    assert (
        new_user().http.post("/webpay/create", json={"request_id": request_id}).status_code == 404
    )


def test_approve_then_commit_accepts_and_a_second_commit_answers_the_same(
    user: User, seed: Callable[..., Fixture]
) -> None:
    """{token_ws} after Approve: accepted; committing again answers the same."""
    fixture = seed()
    _, payment = _webpay_purchase(user, fixture)
    back = _press(payment["url"], "approve")
    assert back == {"token_ws": payment["token"]}
    first = user.http.post("/webpay/commit", json=back)
    assert first.status_code == 200
    assert first.json()["status"] == "accepted"
    assert first.json()["request"]["status"] == "accepted"
    again = user.http.post("/webpay/commit", json=back)
    assert again.json() == first.json()
    assert user.http.get(f"/fixtures/{fixture.id}").json()["available_bonds"] == 38


def test_reject_then_commit_rejects_and_gives_the_bonds_back(
    user: User, seed: Callable[..., Fixture]
) -> None:
    """{token_ws} after Reject: rejected, bonds released."""
    fixture = seed()
    _, payment = _webpay_purchase(user, fixture)
    back = _press(payment["url"], "reject")
    answer = user.http.post("/webpay/commit", json=back)
    assert answer.json()["status"] == "rejected"
    assert answer.json()["request"]["status"] == "rejected"
    assert user.http.get(f"/fixtures/{fixture.id}").json()["available_bonds"] == 40


def test_cancel_sends_the_three_tbk_fields_and_commit_cancels(
    user: User, seed: Callable[..., Fixture]
) -> None:
    """Cancel returns TBK_TOKEN, TBK_ORDEN_COMPRA and TBK_ID_SESION; commit says cancelled."""
    fixture = seed()
    _, payment = _webpay_purchase(user, fixture)
    back = _press(payment["url"], "cancel")
    assert set(back) == {"TBK_TOKEN", "TBK_ORDEN_COMPRA", "TBK_ID_SESION"}
    answer = user.http.post("/webpay/commit", json=back)
    assert answer.json()["status"] == "cancelled"
    assert user.http.post("/webpay/commit", json=back).json() == answer.json()
    assert user.http.get(f"/fixtures/{fixture.id}").json()["available_bonds"] == 40


def test_a_timeout_with_only_the_buy_order_cancels(
    user: User, seed: Callable[..., Fixture]
) -> None:
    """Only TBK_ORDEN_COMPRA and TBK_ID_SESION (a timed-out payment): cancelled."""
    _, payment = _webpay_purchase(user, seed())
    cancel = _press(payment["url"], "cancel")  # learn the buy order the way Webpay sends it
    timeout = {k: cancel[k] for k in ("TBK_ORDEN_COMPRA", "TBK_ID_SESION")}
    answer = user.http.post("/webpay/commit", json=timeout)
    assert answer.status_code == 200
    assert answer.json()["status"] == "cancelled"


def test_committing_another_users_payment_is_a_404(
    user: User, new_user: Callable[..., User], seed: Callable[..., Fixture]
) -> None:
    """A token of someone else's purchase is unknown to the caller, and stays unpaid."""
    request_id, payment = _webpay_purchase(user, seed())
    back = _press(payment["url"], "approve")
    assert new_user().http.post("/webpay/commit", json=back).status_code == 404
    assert user.http.get(f"/requests/{request_id}").json()["status"] == "pending_payment"


def test_a_commit_without_any_webpay_field_is_a_422_naming_token_ws(user: User) -> None:
    """An empty commit body says what Webpay should have sent."""
    answer = user.http.post("/webpay/commit", json={})
    assert answer.status_code == 422
    assert answer.json()["field"] == "token_ws"


def test_the_return_page_commits_and_shows_the_outcome(
    user: User, seed: Callable[..., Fixture]
) -> None:
    """Without a frontend, the sandbox sends the browser to /webpay/return, which commits."""
    request_id, payment = _webpay_purchase(user, seed())
    pressed = httpx.post(f"{payment['url']}/approve", follow_redirects=True)
    assert pressed.status_code == 200
    assert pressed.headers["content-type"].startswith("text/html")
    assert "Payment accepted" in pressed.text
    assert request_id in pressed.text
    assert user.http.get(f"/requests/{request_id}").json()["status"] == "accepted"
