"""Shortcuts for the group's own bonds (CONTRACT §4b) on a unit tests' ``World``."""

from __future__ import annotations

import json
from typing import Any

from goat_adapters.memory.world import World
from goat_core.inventory import Lot, LotStatus
from goat_core.model import Outcome, Viewer
from goat_core.services import BuyBonds, Handled
from goat_core.wire import TOPIC_AUCTIONS

__all__ = [
    "ADMIN",
    "PEER_GROUP",
    "auction_payload",
    "group_lot",
    "group_purchase",
    "held",
    "receive_auction",
]

ADMIN = Viewer("auth0|admin", admin=True)
PEER_GROUP = "6"


def group_purchase(world: World, quantity: int, fixture_id: int = 1, *, valid: bool) -> str:
    """An admin's group purchase of ``quantity`` bonds on the home side, with the course's
    verdict; its request id."""
    world.fund(ADMIN.user_id, quantity * world.rules.bond_price)
    bought = world.exchange.buy_bonds(
        BuyBonds(
            ADMIN.user_id,
            fixture_id,
            Outcome.HOME,
            quantity,
            wallet=True,
            seller=int(world.rules.group_id),
            admin=True,
        )
    )
    world.validate(bought.purchase.request_id, valid)
    return bought.purchase.request_id


def group_lot(world: World, quantity: int = 10, fixture_id: int = 1) -> Lot:
    """An admin's group purchase of ``quantity`` bonds on the home side, accepted; its lot."""
    request_id = group_purchase(world, quantity, fixture_id, valid=True)
    [lot] = [x for x in world.store.lots() if x.source.endswith(request_id)]
    return lot


def auction_payload(
    kind: str,
    auction_id: str = "a-1",
    proposal_id: str = "",
    *,
    group_id: str | int = PEER_GROUP,
    fixture_id: int = 1,
    result: str = "Chelsea",
    quantity: int = 3,
) -> dict[str, Any]:
    """A fixtures/auctions message in the CONTRACT §3 shape."""
    return {
        "auction_id": auction_id,
        "proposal_id": proposal_id,
        "fixture_id": fixture_id,
        "league_name": "Premier League",
        "round": "Regular Season - 12",
        "result": result,
        "quantity": quantity,
        "group_id": group_id,
        "type": kind,
    }


def receive_auction(world: World, kind: str, *args: Any, **fields: Any) -> Handled:
    """A fixtures/auctions message arrives from the broker."""
    return world.exchange.receive(
        TOPIC_AUCTIONS, json.dumps(auction_payload(kind, *args, **fields))
    )


def held(world: World) -> int:
    """Bonds the group holds (held, on sale or on auction)."""
    kept = (LotStatus.HELD, LotStatus.ON_SALE, LotStatus.ON_AUCTION)
    return sum(x.quantity for x in world.store.lots() if x.status in kept)
