"""The Webpay sandbox in a real browser: Debian's headless Chromium, driven by Selenium
through chromedriver, pays through ``goat api --workers 2`` (two processes, one database)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from goat_adapters.local import SystemClock
from goat_adapters.memory import InMemoryJobQueue, InMemoryPaymentGateway, SequentialIds
from goat_adapters.sql import SqlDatabase
from goat_app.auth import DevelopmentTokenVerifier
from goat_core.services import Exchange
from goat_core.wire import TOPIC_INFO, render_fixtures
from tests.e2e.test_production import Processes
from tests.integration.http.support import free_port, new_fixture
from tests.waiting import wait_until

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
        reason="needs Debian's chromium and chromium-driver (apt-get install chromium-driver)",
    ),
]

if os.path.exists(CHROMEDRIVER):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, str, int]]:
    """``goat api --workers 2`` on a fresh SQLite file with one fixture on sale: its URL, a
    buyer's token and the fixture's id."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database_url = f"sqlite:///{tmp_path / 'goat.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOAT_")}
    env.update(
        {
            "GOAT_DATA_DIR": str(tmp_path / "data"),
            "GOAT_DATABASE_URL": database_url,
            "GOAT_PUBLIC_URL": url,
        }
    )
    processes = Processes(env, tmp_path)
    try:
        processes.run("db", "upgrade")
        fixture = new_fixture(home="Colo-Colo", away="Universidad de Chile")
        database = SqlDatabase(database_url)
        Exchange(
            uow=database.unit_of_work,
            payments=InMemoryPaymentGateway(),
            jobs=InMemoryJobQueue(),
            clock=SystemClock(),
            ids=SequentialIds(),
        ).receive(TOPIC_INFO, render_fixtures([fixture]))
        database.dispose()
        # the installation's secret exists before the two workers read it
        token = DevelopmentTokenVerifier(tmp_path / "data").issue("payer@example.com")
        processes.start("api", "api", "--port", str(port), "--workers", "2")

        def up() -> bool:
            try:
                return httpx.get(f"{url}/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, timeout=60, what=f"goat api --workers 2:\n{processes.logs()}")
        yield url, token, fixture.id
    finally:
        processes.stop()


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    """Headless Chromium under chromedriver; quit after the test."""
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.parametrize(
    ("button", "outcome", "status"),
    [
        ("Approve", "accepted", "accepted"),
        ("Reject", "rejected", "rejected"),
        ("Cancel", "cancelled", "rejected"),
    ],
)
def test_a_payer_decides_on_the_sandbox_page_in_a_browser(
    api: tuple[str, str, int], browser: WebDriver, button: str, outcome: str, status: str
) -> None:
    """The payer opens the payment URL, reads the fixture and the amount, presses a button,
    lands on goat's return page with the outcome; the purchase is decided, and the sandbox
    page then shows the decision instead of buttons."""
    url, token, fixture_id = api
    headers = {"Authorization": f"Bearer {token}"}
    body = {"fixture_id": fixture_id, "result": "home", "quantity": 2, "wallet": False}
    created = httpx.post(f"{url}/requests", json=body, headers=headers, timeout=10).json()
    payment_url, request_id = created["payment"]["url"], created["request"]["request_id"]

    browser.get(payment_url)
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "Colo-Colo vs Universidad de Chile" in page
    assert "2000 CLP" in page
    browser.find_element(By.XPATH, f"//button[text()='{button}']").click()
    WebDriverWait(browser, 20).until(lambda driver: "/webpay/return" in driver.current_url)
    heading = browser.find_element(By.TAG_NAME, "h1").text

    assert heading == f"Payment {outcome}"
    answer = httpx.get(f"{url}/requests/{request_id}", headers=headers, timeout=10).json()
    assert answer["status"] == status
    browser.get(payment_url)
    assert browser.find_elements(By.TAG_NAME, "button") == []
    assert f"You {outcome if outcome != 'accepted' else 'approved'}" in browser.page_source
