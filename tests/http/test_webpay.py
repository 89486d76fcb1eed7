"""Paying through Webpay in the HTTP app on memory adapters, and where the sandbox is served."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from goat_adapters.memory import make_fixture
from goat_adapters.webpay import SandboxPaymentGateway
from goat_app.testing import BASE_URL, MemoryApp
from goat_core.wire import TOPIC_VALIDATION
from tests.http.conftest import ALICE, BOB, buy, request_id_of


def _payment(created: dict[str, object]) -> dict[str, str]:
    payment = created["payment"]
    assert isinstance(payment, dict)
    return {str(k): str(v) for k, v in payment.items()}


def test_a_paid_webpay_purchase_is_accepted_and_announced(api: MemoryApp) -> None:
    """wallet=false opens a payment; committing its token accepts the purchase and publishes
    our validation; committing again answers the same."""
    created = buy(api, ALICE, quantity=2, wallet=False)
    payment = _payment(created)
    headers = api.headers_for(ALICE)

    first = api.client.post("/webpay/commit", json={"token_ws": payment["token"]}, headers=headers)
    again = api.client.post("/webpay/commit", json={"token_ws": payment["token"]}, headers=headers)

    assert first.json()["status"] == "accepted"
    assert first.json()["request"]["status"] == "accepted"
    assert again.json() == first.json()
    assert api.world.published(TOPIC_VALIDATION)[0]["request_id"] == request_id_of(created)


def test_a_refused_payment_rejects_and_gives_the_bonds_back(api: MemoryApp) -> None:
    """The bank refuses: the commit says rejected and the bonds are on sale again."""
    api.world.payments.payer_pays = False
    payment = _payment(buy(api, ALICE, quantity=3, wallet=False))
    api.world.payments.refuse(payment["token"])

    answer = api.client.post(
        "/webpay/commit", json={"token_ws": payment["token"]}, headers=api.headers_for(ALICE)
    )

    assert answer.json()["status"] == "rejected"
    assert api.world.available(1) == 40


def test_someone_elses_payment_is_a_404(api: MemoryApp) -> None:
    """Creating or committing another user's payment answers 404 and leaves it unpaid."""
    created = buy(api, ALICE, wallet=False)
    payment, request_id = _payment(created), request_id_of(created)
    bob = api.headers_for(BOB)

    create = api.client.post("/webpay/create", json={"request_id": request_id}, headers=bob)
    commit = api.client.post("/webpay/commit", json={"token_ws": payment["token"]}, headers=bob)

    assert (create.status_code, commit.status_code) == (404, 404)
    assert api.world.purchase(request_id).status == "pending_payment"


def test_the_sandbox_pages_are_absent_with_another_gateway(api: MemoryApp) -> None:
    """With the memory gateway injected, no /webpay/sandbox route exists."""
    paths = {route.path for route in api.app.routes}
    answer = api.client.post("/webpay/sandbox/some-token/approve")

    assert not any(path.startswith("/webpay/sandbox") for path in paths)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_the_sandbox_pages_are_served_when_the_sandbox_pays() -> None:
    """With the sandbox, its page offers three buttons; Approve returns to goat's return
    page, which commits."""
    with MemoryApp(payments=SandboxPaymentGateway(BASE_URL)) as sandboxed:
        sandboxed.world.add_fixtures(make_fixture(1))
        created = buy(sandboxed, ALICE, quantity=2, wallet=False)
        path = urlsplit(_payment(created)["url"]).path

        page = sandboxed.client.get(path)
        pressed = sandboxed.client.post(f"{path}/approve", follow_redirects=False)
        target = urlsplit(pressed.headers["location"])
        back = sandboxed.client.get(target.path, params=dict(parse_qsl(target.query)))

        for button in ("Approve", "Reject", "Cancel"):
            assert f"<button>{button}</button>" in page.text
        assert "2000 CLP" in page.text
        assert (pressed.status_code, target.path) == (303, "/webpay/return")
        assert "Payment accepted" in back.text
        assert sandboxed.world.purchase(request_id_of(created)).status == "accepted"
        assert sandboxed.client.post(f"{path}/maybe").status_code == 404
