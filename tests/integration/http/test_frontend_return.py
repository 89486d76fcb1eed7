"""With GOAT_FRONTEND_RETURN_URL set, Webpay sends the payer to the frontend, not to goat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from litestar.testing import TestClient

from goat_app.compose import build_system
from goat_app.http import create_app
from goat_app.settings import Settings
from tests.integration.http.support import new_fixture


def test_the_sandbox_returns_to_the_frontend_which_then_commits(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Approve redirects to the frontend URL with token_ws; POST /webpay/commit accepts."""
    settings = Settings(
        data_dir=tmp_path,
        database_url=sqlite_url,
        frontend_return_url="http://frontend.test/payment/done",
    )
    system = build_system(settings, public_url="http://testserver")
    fixture = new_fixture(kickoff=datetime.now(UTC) + timedelta(days=1))
    system.exchange.ingest_fixtures([fixture])
    token = system.verifier.issue("fan@example.com")  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with TestClient(create_app(system)) as client:
            body = {"fixture_id": fixture.id, "result": "home", "quantity": 1, "wallet": False}
            payment = client.post("/requests", json=body, headers=headers).json()["payment"]
            path = urlsplit(payment["url"]).path
            pressed = client.post(f"{path}/approve", follow_redirects=False)
            target = urlsplit(pressed.headers["location"])
            assert (target.netloc, target.path) == ("frontend.test", "/payment/done")
            back = dict(parse_qsl(target.query))
            assert back == {"token_ws": payment["token"]}
            committed = client.post("/webpay/commit", json=back, headers=headers).json()
    finally:
        system.close()
    assert committed["status"] == "accepted"
