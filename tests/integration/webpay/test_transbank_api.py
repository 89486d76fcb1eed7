"""``goat api`` with ``GOAT_WEBPAY_ENV=integration`` pays through transbank-sdk: the live
process talks to the local Transbank (``tests.servers.transbank``) as it would to Transbank."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from goat_adapters.local import SystemClock
from goat_adapters.memory import InMemoryJobQueue, InMemoryPaymentGateway, SequentialIds
from goat_adapters.sql import SqlDatabase, upgrade
from goat_adapters.webpay.transbank import TEST_API_KEY, TEST_COMMERCE_CODE
from goat_app.auth import DevelopmentTokenVerifier
from goat_core.services import Exchange
from goat_core.wire import TOPIC_INFO, render_fixtures
from tests.integration.http.support import LiveApi, new_fixture
from tests.servers.transbank import FakeTransbank, running_transbank

pytestmark = pytest.mark.integration


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LiveApi, FakeTransbank, str, int]]:
    """The API in the integration environment, the local Transbank, a token, a fixture."""
    url = f"sqlite:///{tmp_path / 'goat.db'}"
    upgrade(url)
    fixture = new_fixture(home="Cobreloa", away="Everton")
    database = SqlDatabase(url)
    Exchange(
        uow=database.unit_of_work,
        payments=InMemoryPaymentGateway(),
        jobs=InMemoryJobQueue(),
        clock=SystemClock(),
        ids=SequentialIds(),
    ).receive(TOPIC_INFO, render_fixtures([fixture]))
    database.dispose()
    with running_transbank(tmp_path, TEST_COMMERCE_CODE, TEST_API_KEY) as bank:
        saved = {name: os.environ.get(name) for name in bank.environment()}
        os.environ.update(bank.environment())  # LiveApi passes the environment on
        try:
            api = LiveApi(
                {"GOAT_DATABASE_URL": url, "GOAT_WEBPAY_ENV": "integration"}, tmp_path / "data"
            )
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        try:
            token = DevelopmentTokenVerifier(tmp_path / "data").issue("payer@example.com")
            yield api, bank, token, fixture.id
        finally:
            api.stop()


def test_a_payment_through_the_live_api_reaches_transbank_and_is_accepted(
    live: tuple[LiveApi, FakeTransbank, str, int],
) -> None:
    """POST /requests creates the transaction at Transbank; after the payer paid, Webpay's
    return to /webpay/return commits it and the page says accepted; again, the same."""
    api, bank, token, fixture_id = live
    body = {"fixture_id": fixture_id, "result": "home", "quantity": 3, "wallet": False}
    headers = {"Authorization": f"Bearer {token}"}
    created = httpx.post(f"{api.url}/requests", json=body, headers=headers, timeout=10).json()
    payment = created["payment"]
    assert payment["url"] == "https://webpay3gint.transbank.cl/webpayserver/initTransaction"
    assert bank.trades[payment["token"]].amount == 3000
    assert bank.trades[payment["token"]].return_url == f"{api.url}/webpay/return"

    early = httpx.get(f"{api.url}/webpay/return", params={"token_ws": payment["token"]})
    bank.pay(payment["token"])
    back = httpx.get(f"{api.url}/webpay/return", params={"token_ws": payment["token"]})
    again = httpx.get(f"{api.url}/webpay/return", params={"token_ws": payment["token"]})

    assert early.status_code == 409
    assert (back.status_code, again.status_code) == (200, 200)
    assert "Payment accepted" in back.text
    assert "Cobreloa vs Everton" in back.text
    assert "Payment accepted" in again.text
    assert [method for method, _ in bank.calls].count("PUT") == 2  # the early one, then one


def test_production_without_its_keys_does_not_start(tmp_path: Path) -> None:
    """GOAT_WEBPAY_ENV=production without a commerce code stops at start, naming it."""
    with pytest.raises(RuntimeError, match="GOAT_WEBPAY_COMMERCE_CODE"):
        LiveApi({"GOAT_WEBPAY_ENV": "production"}, tmp_path / "data")
