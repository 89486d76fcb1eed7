"""What the original frontend needs from the HTTP API: purchases that say what was bought,
fixtures on sale first, and its own body for the Webpay commit."""

from __future__ import annotations

from datetime import timedelta

from goat_adapters.memory import make_fixture
from goat_adapters.memory.world import KICKOFF
from goat_app.testing import MemoryApp
from tests.http.conftest import ALICE, buy, request_id_of

SUMMARY = {
    "id": 1,
    "home": "Arsenal",
    "away": "Chelsea",
    "league": "Premier League",
    "round": "Regular Season - 12",
    "kickoff": KICKOFF.isoformat().replace("+00:00", "Z"),
}


def _request(created: dict[str, object]) -> dict[str, object]:
    request = created["request"]
    assert isinstance(request, dict)
    return request


def test_every_purchase_answer_carries_its_fixture_and_both_results(api: MemoryApp) -> None:
    """Buying, listing and reading a purchase each show the fixture summary and the result
    as home/draw/away and as the team's name."""
    api.world.fund(api.user_id(ALICE), 5000)
    headers = api.headers_for(ALICE)
    created = _request(buy(api, ALICE, result="Chelsea"))
    draw = _request(buy(api, ALICE, result="draw"))

    listed = api.client.get("/requests", headers=headers).json()["requests"]
    one = api.client.get(f"/requests/{created['request_id']}", headers=headers).json()

    for request in (created, one, *listed):
        assert request["fixture"] == SUMMARY
    assert (created["result"], created["result_name"]) == ("away", "Chelsea")
    assert (one["result"], one["result_name"]) == ("away", "Chelsea")
    assert (draw["result"], draw["result_name"]) == ("draw", "---")


def test_the_webpay_commit_reads_the_original_token_body(api: MemoryApp) -> None:
    """``{"token": ...}`` commits like ``token_ws`` and answers the purchase with its fixture."""
    created = buy(api, ALICE, wallet=False)
    payment = created["payment"]
    assert isinstance(payment, dict)

    answer = api.client.post(
        "/webpay/commit", json={"token": payment["token"]}, headers=api.headers_for(ALICE)
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "accepted"
    assert answer.json()["request"]["request_id"] == request_id_of(created)
    assert answer.json()["request"]["fixture"] == SUMMARY


def _fixtures_at_every_stage(api: MemoryApp) -> None:
    """Fixture 1 upcoming (kick-off in 4 days), 2 upcoming later, 3 live, 4 finished."""
    now = api.world.clock.now()
    api.world.add_fixtures(
        make_fixture(2, kickoff=KICKOFF + timedelta(days=1)),
        make_fixture(3, status="2H", kickoff=now - timedelta(minutes=70)),
        make_fixture(4, status="FT", kickoff=now - timedelta(days=2), goals=(1, 0)),
    )


def test_fixtures_list_what_can_be_bought_first(api: MemoryApp) -> None:
    """GET /fixtures starts with upcoming fixtures by kick-off, then live and past ones."""
    _fixtures_at_every_stage(api)

    page = api.client.get("/fixtures").json()

    assert [f["id"] for f in page["fixtures"]] == [1, 2, 3, 4]
    assert page["total"] == 4


def test_fixtures_filter_by_status(api: MemoryApp) -> None:
    """``status`` keeps upcoming, live or finished fixtures; another value is a 400."""
    _fixtures_at_every_stage(api)

    def ids(status: str) -> list[int]:
        answer = api.client.get("/fixtures", params={"status": status})
        assert answer.status_code == 200, answer.text
        return [f["id"] for f in answer.json()["fixtures"]]

    assert ids("upcoming") == [1, 2]
    assert ids("live") == [3]
    assert ids("finished") == [4]
    assert api.client.get("/fixtures", params={"status": "later"}).status_code == 400
