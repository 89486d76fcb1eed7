"""With GOAT_FRONTEND_RETURN_URL set, Webpay sends the payer to the frontend, not to goat."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from goat_adapters.memory import make_fixture
from goat_adapters.webpay import SandboxPaymentGateway
from goat_app.settings import Settings
from goat_app.testing import BASE_URL, MemoryApp


def test_the_sandbox_returns_to_the_frontend_which_then_commits() -> None:
    """Approve redirects to the frontend URL with token_ws; POST /webpay/commit accepts."""
    settings = Settings(frontend_return_url="http://frontend.test/payment/done")
    with MemoryApp(payments=SandboxPaymentGateway(BASE_URL), settings=settings) as api:
        api.world.add_fixtures(make_fixture(7))
        headers = api.headers_for("fan@example.com")
        body = {"fixture_id": 7, "result": "home", "quantity": 1, "wallet": False}
        payment = api.client.post("/requests", json=body, headers=headers).json()["payment"]
        path = urlsplit(payment["url"]).path
        pressed = api.client.post(f"{path}/approve", follow_redirects=False)
        target = urlsplit(pressed.headers["location"])
        assert (target.netloc, target.path) == ("frontend.test", "/payment/done")
        back = dict(parse_qsl(target.query))
        assert back == {"token_ws": payment["token"]}
        committed = api.client.post("/webpay/commit", json=back, headers=headers).json()
    assert committed["status"] == "accepted"
