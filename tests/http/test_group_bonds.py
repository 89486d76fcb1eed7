"""The group's bonds and auctions over HTTP (CONTRACT §4b), on memory adapters."""

from __future__ import annotations

import json
from typing import Any

from goat_app.testing import MemoryApp
from goat_core.wire import TOPIC_AUCTIONS, TOPIC_REQUESTS
from tests.http.conftest import ALICE, BOSS


def _admin(api: MemoryApp) -> dict[str, str]:
    return api.headers_for(BOSS, admin=True)


def _stock(api: MemoryApp, quantity: int = 10) -> str:
    """An admin's validated group purchase; the id of its lot."""
    api.world.fund(api.user_id(BOSS), quantity * 1000)
    body = {"fixture_id": 1, "result": "home", "quantity": quantity, "wallet": True, "seller": 15}
    created = api.client.post("/requests", json=body, headers=_admin(api))
    assert created.status_code == 201, created.text
    api.world.validate(created.json()["request"]["request_id"], True)
    bonds = api.client.get("/admin/bonds", headers=_admin(api)).json()["bonds"]
    assert [b["quantity"] for b in bonds] == [quantity]
    return str(bonds[0]["id"])


def _problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    return body


def test_admin_buys_for_the_group_and_puts_a_lot_on_sale(api: MemoryApp) -> None:
    """The admin's purchase is announced with our seller, becomes a lot, goes on sale at 20 %."""
    lot = _stock(api)

    patched = api.client.patch(
        f"/admin/bonds/{lot}", json={"on_sale": True, "discount": 20}, headers=_admin(api)
    )

    assert patched.status_code == 200, patched.text
    assert (patched.json()["status"], patched.json()["discount"]) == ("on_sale", 20)
    assert patched.json()["origin"] == "purchase"
    assert api.world.published(TOPIC_REQUESTS)[-1]["seller"] == 15
    listed = api.client.get("/bonds", headers=api.headers_for(ALICE)).json()["bonds"]
    assert [(b["id"], b["price"], b["quantity"]) for b in listed] == [(lot, 800, 10)]


def test_user_buys_from_a_lot(api: MemoryApp) -> None:
    """A user's purchase of a lot is 201 accepted at the discounted price; the account gets it."""
    lot = _stock(api)
    api.client.patch(
        f"/admin/bonds/{lot}", json={"on_sale": True, "discount": 10}, headers=_admin(api)
    )
    api.world.fund(api.user_id(ALICE), 2000)

    answer = api.client.post(
        f"/bonds/{lot}/buy", json={"quantity": 2}, headers=api.headers_for(ALICE)
    )

    assert answer.status_code == 201, answer.text
    request = answer.json()["request"]
    assert (request["status"], request["seller"], request["quantity"]) == ("accepted", 15, 2)
    assert api.world.balance(api.user_id(ALICE)) == 200
    account = api.client.get("/admin/account", headers=_admin(api)).json()
    assert account["balance"] == 1800
    assert [e["kind"] for e in account["ledger"]] == ["sale"]


def test_refusals_are_problem_documents(api: MemoryApp) -> None:
    """Non-admin 403, unknown lot 404, too many bonds 409, bad discount 422, no money 402."""
    lot = _stock(api, 3)
    user = api.headers_for(ALICE)
    body = {"fixture_id": 1, "result": "home", "quantity": 1, "wallet": True, "seller": 15}

    _problem(api.client.post("/requests", json=body, headers=user), 403)
    _problem(api.client.get("/admin/bonds", headers=user), 403)
    _problem(api.client.post("/auctions", json={"bond_id": lot, "quantity": 1}, headers=user), 403)
    _problem(
        api.client.patch("/admin/bonds/nope", json={"on_sale": True}, headers=_admin(api)), 404
    )
    bad = api.client.patch(f"/admin/bonds/{lot}", json={"discount": 15}, headers=_admin(api))
    assert _problem(bad, 422)["field"] == "discount"
    _problem(
        api.client.post("/auctions", json={"bond_id": lot, "quantity": 4}, headers=_admin(api)), 409
    )
    api.client.patch(f"/admin/bonds/{lot}", json={"on_sale": True}, headers=_admin(api))
    _problem(api.client.post(f"/bonds/{lot}/buy", json={"quantity": 1}, headers=user), 402)
    api.world.fund(api.user_id(ALICE), 10_000)
    _problem(api.client.post(f"/bonds/{lot}/buy", json={"quantity": 4}, headers=user), 409)
    _problem(api.client.post("/bonds/nope/buy", json={"quantity": 1}, headers=user), 404)
    _problem(api.client.post("/auctions/proposals/nope/accept", headers=_admin(api)), 404)
    _problem(
        api.client.post(
            "/auctions/nope/proposals", json={"bond_id": lot, "quantity": 1}, headers=_admin(api)
        ),
        404,
    )


def test_a_whole_auction_over_http(api: MemoryApp) -> None:
    """Offer, a peer's proposal, acceptance: published, listed, and the inventory swapped."""
    lot = _stock(api)

    offered = api.client.post(
        "/auctions", json={"bond_id": lot, "quantity": 4}, headers=_admin(api)
    )
    assert offered.status_code == 201, offered.text
    auction_id = offered.json()["auction"]["auction_id"]
    proposal = {
        "auction_id": auction_id,
        "proposal_id": "p-1",
        "fixture_id": 1,
        "league_name": "Premier League",
        "round": "Regular Season - 12",
        "result": "---",
        "quantity": 5,
        "group_id": 6,
        "type": "proposal",
    }
    api.world.exchange.receive(TOPIC_AUCTIONS, json.dumps(proposal))
    received = api.client.get("/auctions/proposals", headers=_admin(api)).json()["proposals"]
    assert [(p["proposal_id"], p["state"]) for p in received] == [("p-1", "pending")]

    accepted = api.client.post("/auctions/proposals/p-1/accept", headers=_admin(api))

    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "accepted"
    assert [m["type"] for m in api.world.published(TOPIC_AUCTIONS)] == ["offer", "acceptance"]
    bonds = api.client.get("/admin/bonds", headers=_admin(api)).json()["bonds"]
    assert sorted((b["result"], b["quantity"], b["origin"]) for b in bonds) == [
        ("draw", 5, "auction"),
        ("home", 6, "purchase"),
    ]
    ours = api.client.get("/auctions", headers=_admin(api)).json()["offers"]
    assert [o["state"] for o in ours] == ["closed"]


def test_proposing_for_another_groups_offer(api: MemoryApp) -> None:
    """Another group's offer is listed; our proposal holds bonds and is listed as ours."""
    lot = _stock(api)
    offer = {
        "auction_id": "a-6",
        "proposal_id": "",
        "fixture_id": 1,
        "league_name": "Premier League",
        "round": "Regular Season - 12",
        "result": "Chelsea",
        "quantity": 2,
        "group_id": "6",
        "type": "offer",
    }
    api.world.exchange.receive(TOPIC_AUCTIONS, json.dumps(offer))
    offers = api.client.get("/auctions/offers", headers=_admin(api)).json()["offers"]
    assert [o["auction_id"] for o in offers] == ["a-6"]

    proposed = api.client.post(
        "/auctions/a-6/proposals", json={"bond_id": lot, "quantity": 3}, headers=_admin(api)
    )

    assert proposed.status_code == 201, proposed.text
    mine = api.client.get("/auctions/my-proposals", headers=_admin(api)).json()["proposals"]
    assert [(p["auction_id"], p["quantity"], p["state"]) for p in mine] == [("a-6", 3, "pending")]
    assert api.world.published(TOPIC_AUCTIONS)[-1]["type"] == "proposal"
