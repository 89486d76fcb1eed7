"""The pages a payer's browser sees: the sandbox's payment page and goat's return page."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest

from goat_adapters.memory import InMemoryPaymentGateway, make_fixture
from goat_adapters.webpay import SandboxPaymentGateway
from goat_app.settings import Settings
from goat_app.testing import BASE_URL, MemoryApp
from goat_core.errors import Busy, Unavailable
from goat_core.model import PaymentConfirmation
from goat_core.services.queries import Queries
from tests.http.conftest import ALICE, buy, request_id_of


@pytest.fixture
def sandboxed() -> Iterator[MemoryApp]:
    """The app paying through the sandbox, with fixture 1 (Arsenal v Chelsea) on sale."""
    with MemoryApp(payments=SandboxPaymentGateway(BASE_URL)) as app:
        app.world.add_fixtures(make_fixture(1))
        yield app


def _pay_path(api: MemoryApp, quantity: int = 2) -> tuple[str, str]:
    created = buy(api, ALICE, quantity=quantity, wallet=False)
    payment = created["payment"]
    assert isinstance(payment, dict)
    return urlsplit(str(payment["url"])).path, request_id_of(created)


def test_the_sandbox_page_names_the_fixture_and_the_amount(sandboxed: MemoryApp) -> None:
    """The payer reads the teams, the bonds, the amount, and a link back to the shop."""
    path, request_id = _pay_path(sandboxed)

    page = sandboxed.client.get(path).text

    assert "Arsenal vs Chelsea" in page
    assert "2000 CLP" in page
    assert request_id in page
    assert '<a href="/">Back to the shop</a>' in page


def test_after_a_decision_the_sandbox_shows_it_instead_of_buttons(sandboxed: MemoryApp) -> None:
    """Once rejected, the page says so and offers no button; pressing again changes nothing."""
    path, request_id = _pay_path(sandboxed)
    sandboxed.client.post(f"{path}/reject", follow_redirects=False)

    again = sandboxed.client.post(f"{path}/approve", follow_redirects=False)
    page = sandboxed.client.get(path).text

    assert "You rejected this payment" in page
    assert "<button>" not in page
    target = urlsplit(again.headers["location"])
    back = sandboxed.client.get(target.path, params=dict(parse_qsl(target.query)))
    assert "Payment rejected" in back.text
    assert sandboxed.world.purchase(request_id).status == "rejected"


def test_a_return_before_the_payer_decided_says_so(sandboxed: MemoryApp) -> None:
    """The return page for a payment nobody decided on is a 409 HTML page saying so."""
    path, request_id = _pay_path(sandboxed)
    token = path.rsplit("/", 1)[-1]

    answer = sandboxed.client.get("/webpay/return", params={"token_ws": token})

    assert answer.status_code == 409
    assert answer.headers["content-type"].startswith("text/html")
    assert "Webpay has no decision for this payment yet" in answer.text
    assert sandboxed.world.purchase(request_id).status == "pending_payment"


def test_unknown_tokens_and_missing_fields_are_html_pages(sandboxed: MemoryApp) -> None:
    """A browser never gets problem JSON from these pages: 404 and 422 are HTML."""
    unknown = sandboxed.client.get("/webpay/sandbox/" + "0" * 64)
    pressed = sandboxed.client.post("/webpay/sandbox/" + "0" * 64 + "/approve")
    nothing = sandboxed.client.get("/webpay/return")

    assert (unknown.status_code, pressed.status_code, nothing.status_code) == (404, 404, 422)
    for answer in (unknown, pressed, nothing):
        assert answer.headers["content-type"].startswith("text/html")


def test_a_provider_down_at_the_return_leaves_the_purchase_waiting() -> None:
    """Webpay unreachable: a 503 page saying the purchase waits; the link back is the
    frontend's origin."""
    gateway = InMemoryPaymentGateway(payer_pays=True)
    settings = Settings(fixtures_cache_ms=0, frontend_return_url="https://shop.example/paid")
    with MemoryApp(payments=gateway, settings=settings) as api:
        api.world.add_fixtures(make_fixture(1))
        created = buy(api, ALICE, wallet=False)
        payment = created["payment"]
        assert isinstance(payment, dict)
        gateway.down = True

        answer = api.client.get("/webpay/return", params={"token_ws": payment["token"]})

        assert answer.status_code == 503
        assert "Your purchase waits" in answer.text
        assert 'href="https://shop.example/"' in answer.text
        assert api.world.purchase(request_id_of(created)).status == "pending_payment"


class _BusyGateway(InMemoryPaymentGateway):
    """A provider whose commit finds the purchase busy (a lock that timed out, say)."""

    def commit(self, token: str) -> PaymentConfirmation:
        raise Busy("the purchase is being decided elsewhere")


def test_any_other_error_at_the_return_is_an_html_page() -> None:
    """An error the return page has no row for (Busy, 409) is a 503 HTML page, not JSON."""
    with MemoryApp(payments=_BusyGateway(payer_pays=True)) as api:
        api.world.add_fixtures(make_fixture(1))
        payment = buy(api, ALICE, wallet=False)["payment"]
        assert isinstance(payment, dict)

        answer = api.client.get("/webpay/return", params={"token_ws": payment["token"]})

    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("text/html")
    assert "reload this page" in answer.text


def test_a_failure_showing_the_purchase_is_an_html_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unavailable while reading the decided purchase's view still answers an HTML page."""
    with MemoryApp(payments=InMemoryPaymentGateway(payer_pays=True)) as api:
        api.world.add_fixtures(make_fixture(1))
        payment = buy(api, ALICE, wallet=False)["payment"]
        assert isinstance(payment, dict)

        def down(*_: object) -> None:
            raise Unavailable("the database is down")

        monkeypatch.setattr(Queries, "view", down)
        answer = api.client.get("/webpay/return", params={"token_ws": payment["token"]})

    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("text/html")


def test_team_names_are_escaped_on_the_payer_s_pages() -> None:
    """A team named with markup shows as text on the sandbox page and on the return page."""
    evil = "<script>alert(1)</script>"
    with MemoryApp(payments=SandboxPaymentGateway(BASE_URL)) as api:
        api.world.add_fixtures(make_fixture(1, home=evil, away='"><img src=x onerror=alert(2)>'))
        path, _ = _pay_path(api)
        sandbox = api.client.get(path).text
        decided = api.client.post(f"{path}/approve", follow_redirects=False)
        target = urlsplit(decided.headers["location"])
        back = api.client.get(target.path, params=dict(parse_qsl(target.query))).text

    for shown in (sandbox, back):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
        assert "<script>" not in shown
        assert "<img" not in shown
