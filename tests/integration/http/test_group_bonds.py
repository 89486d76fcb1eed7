"""The group's own bonds against the live API on the real database (CONTRACT §4b)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable

from goat_core.model import Fixture
from goat_core.services import Exchange
from goat_core.wire import TOPIC_AUCTIONS
from tests.integration.http.conftest import User


def _lot(admin: User, fixture: Fixture, quantity: int) -> str:
    """The admin's group purchase of ``quantity`` bonds, validated; its lot's id."""
    admin.top_up(quantity * 1000)
    created = admin.buy(fixture, quantity, seller=15)
    assert created.status_code == 201, created.text
    verdict = {"request_id": created.json()["request"]["request_id"], "group_id": 1, "valid": True}
    assert admin.http.patch("/requests/validate", json=verdict).status_code == 200
    bonds = admin.http.get("/admin/bonds").json()["bonds"]
    [lot] = [b for b in bonds if b["fixture_id"] == fixture.id]
    assert (lot["quantity"], lot["status"], lot["origin"]) == (quantity, "held", "purchase")
    return str(lot["id"])


def test_twenty_buyers_at_once_buy_exactly_a_lot_of_five(
    new_user: Callable[..., User], seed: Callable[..., Fixture]
) -> None:
    """Over the live API, 20 users buying 1 bond each at once from a lot of 5 get 5 × 201."""
    admin = new_user(admin=True)
    lot = _lot(admin, seed(), 5)
    patched = admin.http.patch(f"/admin/bonds/{lot}", json={"on_sale": True, "discount": 20})
    assert patched.status_code == 200, patched.text
    buyers = [new_user() for _ in range(20)]
    for buyer in buyers:
        buyer.top_up(800)
    barrier = threading.Barrier(len(buyers))
    codes: Counter[int] = Counter()
    lock = threading.Lock()

    def buy(buyer: User) -> None:
        barrier.wait()
        code = buyer.http.post(f"/bonds/{lot}/buy", json={"quantity": 1}).status_code
        with lock:
            codes[code] += 1

    threads = [threading.Thread(target=buy, args=(buyer,)) for buyer in buyers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert codes == Counter({201: 5, 409: 15}), codes
    wallets = Counter(buyer.http.get("/users/wallet").json()["wallet"] for buyer in buyers)
    assert wallets == Counter({0: 5, 800: 15})


def test_an_auction_over_the_live_api(
    new_user: Callable[..., User], seed: Callable[..., Fixture], core: Exchange
) -> None:
    """Offer, a peer's proposal from the broker, acceptance: the inventory swaps."""
    admin = new_user(admin=True)
    fixture = seed()
    lot = _lot(admin, fixture, 6)

    offered = admin.http.post("/auctions", json={"bond_id": lot, "quantity": 4})
    assert offered.status_code == 201, offered.text
    auction_id = offered.json()["auction"]["auction_id"]
    proposal = {
        "auction_id": auction_id,
        "proposal_id": f"p-{auction_id}",
        "fixture_id": fixture.id,
        "league_name": "Premier League",
        "round": "Regular Season - 12",
        "result": "---",
        "quantity": 2,
        "group_id": 6,
        "type": "proposal",
    }
    core.receive(TOPIC_AUCTIONS, json.dumps(proposal))
    accepted = admin.http.post(f"/auctions/proposals/p-{auction_id}/accept")

    assert accepted.status_code == 200, accepted.text
    bonds = admin.http.get("/admin/bonds").json()["bonds"]
    mine = sorted(
        (b["result"], b["quantity"], b["origin"]) for b in bonds if b["fixture_id"] == fixture.id
    )
    assert mine == [("draw", 2, "auction"), ("home", 2, "purchase")]
    again = admin.http.post(f"/auctions/proposals/p-{auction_id}/accept")
    assert again.status_code == 409
