"""Health, readiness, jobs, recommendations, dead letters, CORS and the generic HTTP errors."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from goat_core.model import Fixture, MatchState
from goat_core.services import Exchange
from goat_core.wire import TOPIC_HISTORY, render_history
from tests.integration.http.conftest import FRONTEND, User

pytestmark = pytest.mark.integration


def test_health_answers_ok(anonymous: httpx.Client) -> None:
    """GET /health is a liveness probe anyone may call."""
    assert anonymous.get("/health").json() == {"status": "ok"}


def test_ready_names_each_dependency_and_its_state(anonymous: httpx.Client) -> None:
    """GET /ready lists database, broker and jobs, and is 200 when the database and jobs are up."""
    answer = anonymous.get("/ready")
    assert answer.status_code == 200
    body = answer.json()
    assert body["ready"] is True
    assert set(body["dependencies"]) == {"database", "broker", "jobs"}
    assert body["dependencies"]["database"].startswith("up")


def test_the_heartbeat_says_whether_jobs_run(anonymous: httpx.Client) -> None:
    """GET /workers/heartbeat answers {"available": true} while the job worker runs."""
    assert anonymous.get("/workers/heartbeat").json() == {"available": True}


def test_recommendations_start_empty(user: User) -> None:
    """A user with no won bonds has no recommendations and no update time."""
    assert user.http.get("/recommendations").json() == {"updated_at": None, "recommendations": []}


def test_a_recompute_is_queued_and_ranks_fixtures_of_teams_the_user_won_on(
    user: User,
    new_user: Callable[..., User],
    seed: Callable[..., Fixture],
    core: Exchange,
) -> None:
    """POST /recommendations answers 202 with a job id; the job stores the ranked fixtures."""
    team = f"Winners {uuid.uuid4().hex[:6]}"
    played = seed(home=team)
    upcoming = seed(away=team)
    user.top_up(2000)
    request_id = user.buy(played, quantity=2).json()["request"]["request_id"]
    message = {"request_id": request_id, "group_id": "15", "valid": True}
    new_user(admin=True).http.patch("/requests/validate", json=message)
    core.receive(
        TOPIC_HISTORY, render_history([MatchState(played.id, "FT", "Match Finished", 90, 2, 1)])
    )
    assert user.http.get(f"/requests/{request_id}").json()["status"] == "won"

    answer = user.http.post("/recommendations")
    assert answer.status_code == 202
    assert answer.json()["job_id"]
    deadline = time.monotonic() + 10
    body = user.http.get("/recommendations").json()
    while not body["recommendations"] and time.monotonic() < deadline:
        time.sleep(0.05)
        body = user.http.get("/recommendations").json()
    assert body["updated_at"] is not None
    first = body["recommendations"][0]
    assert first["fixture"]["id"] == upcoming.id
    # pond = hits × round / odd of the involved team = 2 × 12 / 4.20
    assert first["pond"] == pytest.approx(2 * 12 / 4.20)


def test_admins_list_dead_letters_newest_first(
    new_user: Callable[..., User], core: Exchange
) -> None:
    """GET /admin/dead-letters shows kept malformed messages with topic and reason."""
    marker = uuid.uuid4().hex
    core.keep_dead_letter("fixtures/requests", f'{{"broken": "{marker}"', "not JSON")
    answer = new_user(admin=True).http.get("/admin/dead-letters", params={"count": 5})
    assert answer.status_code == 200
    newest = answer.json()["dead_letters"][0]
    assert marker in newest["payload"]
    assert (newest["topic"], newest["reason"]) == ("fixtures/requests", "not JSON")


def test_dead_letters_are_for_admins_only(user: User, anonymous: httpx.Client) -> None:
    """A user gets 403 and an anonymous caller 401 from /admin/dead-letters."""
    assert user.http.get("/admin/dead-letters").status_code == 403
    assert anonymous.get("/admin/dead-letters").status_code == 401


def test_cors_allows_the_configured_frontend_only(anonymous: httpx.Client) -> None:
    """A preflight from GOAT_CORS_ORIGINS is allowed; another origin is not."""
    headers = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    allowed = anonymous.options("/requests", headers={**headers, "Origin": FRONTEND})
    assert allowed.headers.get("access-control-allow-origin") == FRONTEND
    other = anonymous.options("/requests", headers={**headers, "Origin": "http://evil.test"})
    assert other.headers.get("access-control-allow-origin") is None


def test_an_unknown_route_is_a_404_problem(anonymous: httpx.Client) -> None:
    """Even a path that matches no endpoint answers an RFC 9457 document."""
    answer = anonymous.get("/no/such/thing")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert set(answer.json()) >= {"type", "title", "status", "detail"}


def test_a_wrong_method_is_a_405_problem(anonymous: httpx.Client) -> None:
    """DELETE on /fixtures answers 405 as a problem document."""
    answer = anonymous.delete("/fixtures")
    assert answer.status_code == 405
    assert answer.json()["status"] == 405


def test_a_too_large_body_is_a_413_problem(user: User) -> None:
    """Bodies above the limit are refused before they are read whole."""
    answer = user.http.post(
        "/requests",
        content=b"[" + b"1," * 100_000 + b"1]",
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json()["status"] == 413


def test_malformed_json_is_a_400_problem(user: User) -> None:
    """A body that is not JSON is a 400 problem document."""
    answer = user.http.post(
        "/requests", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["title"] == "Bad Request"


def test_the_schema_and_its_browsable_ui_are_served(anonymous: httpx.Client) -> None:
    """/schema/openapi.json lists every contract path; /schema is an HTML page."""
    paths = anonymous.get("/schema/openapi.json").json()["paths"]
    for path in (
        "/fixtures",
        "/fixtures/{fixture_id}",
        "/requests",
        "/requests/{request_id}",
        "/requests/validate",
        "/requests/{request_id}/receipt",
        "/users/me",
        "/users/wallet",
        "/webpay/create",
        "/webpay/commit",
        "/webpay/return",
        "/recommendations",
        "/workers/heartbeat",
        "/health",
        "/ready",
        "/admin/dead-letters",
    ):
        assert path in paths
    page = anonymous.get("/schema")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
