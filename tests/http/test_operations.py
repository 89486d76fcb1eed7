"""Probes, the published schema and the problem documents of the HTTP app on memory adapters."""

from __future__ import annotations

import attrs

from goat_adapters.memory import make_fixture
from goat_app.http.schemas import fixture_out
from goat_app.testing import MemoryApp


def test_ready_names_each_dependency(api: MemoryApp) -> None:
    """GET /ready is 200 and names the in-memory database, the broker and the jobs."""
    answer = api.client.get("/ready")

    assert answer.status_code == 200
    dependencies = answer.json()["dependencies"]
    assert dependencies["database"] == "up (memory)"
    assert dependencies["broker"].startswith("not connected by this process")
    assert dependencies["jobs"] == "up (memory); job outbox backlog 0"


def test_ready_stays_ready_while_the_job_queue_is_down(api: MemoryApp) -> None:
    """A job queue that is down is named on /ready but does not make the process unready."""
    api.world.jobs.down = True
    answer = api.client.get("/ready")

    assert answer.status_code == 200
    assert answer.json()["dependencies"]["jobs"].startswith("down (memory)")


def test_the_schema_lists_every_contract_path(api: MemoryApp) -> None:
    """/schema/openapi.json documents the API of CONTRACT §4 and §4b (and not the sandbox)."""
    paths = api.client.get("/schema/openapi.json").json()["paths"]

    assert set(paths) == {
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
        "/admin/bonds",
        "/admin/bonds/{bond_id}",
        "/admin/account",
        "/bonds",
        "/bonds/{bond_id}/buy",
        "/auctions",
        "/auctions/offers",
        "/auctions/{auction_id}/proposals",
        "/auctions/proposals",
        "/auctions/my-proposals",
        "/auctions/proposals/{proposal_id}/accept",
        "/auctions/proposals/{proposal_id}/reject",
    }


def test_fixtures_are_listed_with_their_availability(api: MemoryApp) -> None:
    """GET /fixtures and /fixtures/{id} show the stored fixture and its bonds on sale."""
    listed = api.client.get("/fixtures").json()
    one = api.client.get("/fixtures/1").json()

    assert (listed["total"], listed["fixtures"][0]["id"]) == (1, 1)
    assert one["available_bonds"] == 40
    assert api.client.get("/fixtures/2").status_code == 404


def test_a_fixture_document_is_reused_only_for_the_same_object() -> None:
    """fixture_out() hands back the document it made for this very object; an equal or a
    changed fixture (fewer bonds) gets its own, from its own values."""
    f = attrs.evolve(make_fixture(), available_bonds=40)
    fewer = attrs.evolve(f, available_bonds=35)

    assert fixture_out(f) is fixture_out(f)
    assert fixture_out(attrs.evolve(f)) == fixture_out(f)
    assert fixture_out(fewer).available_bonds == 35
    assert fixture_out(f).available_bonds == 40


def test_a_bad_token_is_a_401_problem(api: MemoryApp) -> None:
    """A token this app did not issue is refused with WWW-Authenticate."""
    answer = api.client.get("/users/me", headers={"Authorization": "Bearer not-a-jwt"})

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
