"""GET /fixtures and /fixtures/{id} on the live API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from goat_core.model import Fixture

pytestmark = pytest.mark.integration


def test_a_fixture_has_teams_league_goals_odds_availability_and_update_time(
    anonymous: httpx.Client, seed: Callable[..., Fixture]
) -> None:
    """Anyone gets one fixture with every part the contract lists."""
    fixture = seed()
    answer = anonymous.get(f"/fixtures/{fixture.id}")
    assert answer.status_code == 200
    body = answer.json()
    assert body["id"] == fixture.id
    assert body["teams"]["home"]["name"] == fixture.home.name
    assert body["league"]["round"] == "Regular Season - 12"
    assert body["goals"] == {"home": None, "away": None}
    assert body["odds"][0]["name"] == "Match Winner"
    assert [v["odd"] for v in body["odds"][0]["values"]] == ["1.85", "3.40", "4.20"]
    assert body["available_bonds"] == 40
    assert body["updated_at"] is not None


def test_an_unknown_fixture_is_a_404_problem(anonymous: httpx.Client) -> None:
    """GET /fixtures/{id} for an id nobody sent answers a 404 problem document."""
    answer = anonymous.get("/fixtures/1")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["status"] == 404


def test_the_list_is_paginated_with_total_page_and_count(
    anonymous: httpx.Client, seed: Callable[..., Fixture]
) -> None:
    """GET /fixtures answers a page of at most ``count`` fixtures and the total."""
    seed()
    seed()
    answer = anonymous.get("/fixtures", params={"page": 1, "count": 1})
    assert answer.status_code == 200
    body = answer.json()
    assert len(body["fixtures"]) == 1
    assert body["total"] >= 2
    assert (body["page"], body["count"]) == (1, 1)


def test_count_above_25_is_a_400_naming_count(anonymous: httpx.Client) -> None:
    """A page can hold at most 25 fixtures; asking for more names the parameter."""
    answer = anonymous.get("/fixtures", params={"count": 26})
    assert answer.status_code == 400
    assert answer.json()["field"] == "count"


def test_filters_show_only_fixtures_not_yet_started(
    anonymous: httpx.Client, seed: Callable[..., Fixture]
) -> None:
    """With a team filter, a started fixture of that team is left out, an upcoming one kept."""
    upcoming = seed(home="Filterton United")
    seed(home="Filterton United", kickoff=datetime.now(UTC) - timedelta(minutes=10), status="1H")
    answer = anonymous.get("/fixtures", params={"home": "Filterton", "count": 25})
    ids = [f["id"] for f in answer.json()["fixtures"]]
    assert upcoming.id in ids
    assert all(f["fixture"]["status"]["short"] == "NS" for f in answer.json()["fixtures"])
    assert answer.json()["total"] == len([i for i in ids])


def test_the_date_filter_keeps_that_day_only(
    anonymous: httpx.Client, seed: Callable[..., Fixture]
) -> None:
    """``date=YYYY-MM-DD`` lists only upcoming fixtures kicking off that day."""
    day = datetime.now(UTC) + timedelta(days=200 + (datetime.now(UTC).microsecond % 100))
    on_day = seed(kickoff=day)
    seed(kickoff=day + timedelta(days=1))
    answer = anonymous.get("/fixtures", params={"date": day.date().isoformat()})
    assert answer.status_code == 200
    assert on_day.id in [f["id"] for f in answer.json()["fixtures"]]
    assert all(
        f["fixture"]["date"].startswith(day.date().isoformat()) for f in answer.json()["fixtures"]
    )


def test_a_malformed_date_is_a_400_naming_date(anonymous: httpx.Client) -> None:
    """``date`` that is not YYYY-MM-DD is rejected with the parameter named."""
    answer = anonymous.get("/fixtures", params={"date": "tomorrow"})
    assert answer.status_code == 400
    assert answer.json()["field"] == "date"
