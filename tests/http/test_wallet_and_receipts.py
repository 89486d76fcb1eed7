"""The wallet, receipts and recommendations through the HTTP app on memory adapters."""

from __future__ import annotations

from goat_app.testing import MemoryApp
from goat_core.jobs import MakeReceipt, Recommend
from tests.http.conftest import ALICE, BOB, BOSS, buy, request_id_of


def test_a_new_user_is_registered_from_the_token_with_an_empty_wallet(api: MemoryApp) -> None:
    """GET /users/me creates the user from the token's claims on first use."""
    me = api.client.get("/users/me", headers=api.headers_for(ALICE)).json()

    assert me == {
        "id": api.user_id(ALICE),
        "email": ALICE,
        "name": "alice",
        "wallet": 0,
        "admin": False,
    }


def test_a_top_up_answers_the_new_balance(api: MemoryApp) -> None:
    """PUT /users/wallet adds the amount; GET /users/wallet reads it back."""
    headers = api.headers_for(ALICE)

    put = api.client.put("/users/wallet", json={"amount": 2500}, headers=headers)

    assert put.json() == {"wallet": 2500}
    assert api.client.get("/users/wallet", headers=headers).json() == {"wallet": 2500}


def test_a_top_up_past_the_ceiling_is_a_422_naming_amount(api: MemoryApp) -> None:
    """A wallet holds at most 10**15 CLP: going past it is a 422 problem about ``amount``."""
    api.world.fund(api.user_id(ALICE), 10**15 - 5)
    headers = api.headers_for(ALICE)

    over = api.client.put("/users/wallet", json={"amount": 10}, headers=headers)
    exact = api.client.put("/users/wallet", json={"amount": 5}, headers=headers)

    assert over.status_code == 422
    assert over.headers["content-type"].startswith("application/problem+json")
    assert over.json()["field"] == "amount"
    assert exact.json() == {"wallet": 10**15}


def test_a_receipt_is_409_until_accepted_then_202_until_made_then_its_url(
    api: MemoryApp,
) -> None:
    """A receipt is 409 while pending, 202 (and a job) once accepted, then its URL."""
    api.world.fund(api.user_id(ALICE), 1000)
    request_id = request_id_of(buy(api, ALICE))
    headers = api.headers_for(ALICE)
    path = f"/requests/{request_id}/receipt"

    pending = api.client.get(path, headers=headers)
    api.world.validate(request_id, valid=True)
    being_made = api.client.get(path, headers=headers)
    api.world.receipts.put(request_id, b"%PDF-1.4 receipt")
    made = api.client.get(path, headers=headers)

    assert pending.status_code == 409
    assert being_made.status_code == 202
    assert being_made.json()["status"] == "pending"
    assert MakeReceipt(request_id) in api.world.jobs.enqueued
    assert made.status_code == 200
    assert made.json() == {"url": f"memory://receipts/{request_id}"}


def test_a_receipt_is_only_for_its_owner(api: MemoryApp) -> None:
    """Another user, and even an admin, get 404 for someone's receipt (it names the buyer)."""
    api.world.fund(api.user_id(ALICE), 1000)
    request_id = request_id_of(buy(api, ALICE))
    api.world.validate(request_id, valid=True)
    path = f"/requests/{request_id}/receipt"

    assert api.client.get(path, headers=api.headers_for(BOB)).status_code == 404
    assert api.client.get(path, headers=api.headers_for(BOSS, admin=True)).status_code == 404


def test_asking_for_recommendations_queues_a_job_and_answers_its_id(api: MemoryApp) -> None:
    """POST /recommendations is 202 with a job id; the job is the caller's recompute."""
    headers = api.headers_for(ALICE)

    answer = api.client.post("/recommendations", headers=headers)

    assert answer.status_code == 202
    assert answer.json()["job_id"]
    assert api.world.jobs.enqueued[-1] == Recommend(api.user_id(ALICE))
    listed = api.client.get("/recommendations", headers=headers).json()
    assert listed == {"updated_at": "2024-10-01T12:00:00Z", "recommendations": []}


def test_a_queue_that_is_down_is_a_503_and_an_unavailable_heartbeat(api: MemoryApp) -> None:
    """With the queue down, POST /recommendations is 503, the heartbeat false; /ready shows it."""
    api.world.jobs.down = True

    answer = api.client.post("/recommendations", headers=api.headers_for(ALICE))

    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert api.client.get("/workers/heartbeat").json() == {"available": False}
    ready = api.client.get("/ready")  # the job outbox keeps jobs: still ready, jobs named down
    assert ready.status_code == 200
    assert ready.json()["dependencies"]["jobs"].startswith("down")
