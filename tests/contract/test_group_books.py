"""The group's books (inventory, account, auctions) behave alike on every backend."""

from __future__ import annotations

import json

import attrs
import pytest

from goat_adapters.memory import (
    InMemoryJobQueue,
    InMemoryPaymentGateway,
    ManualClock,
    SequentialIds,
)
from goat_core.errors import LotTooSmall, NotEnoughMoney
from goat_core.inventory import (
    AccountEntry,
    AccountKind,
    AuctionState,
    Lot,
    LotStatus,
    Offer,
    Origin,
    Proposal,
    ProposalState,
)
from goat_core.model import Outcome, PurchaseStatus, Rules, Viewer
from goat_core.services import BuyBonds, Exchange, Handled
from goat_core.wire import TOPIC_AUCTIONS, TOPIC_INFO, render_fixtures
from tests.contract.builders import NOW, fixture
from tests.contract.conftest import Backend

ADMIN = Viewer("auth0|admin", admin=True)


def _lot(source: str = "purchase:r1", quantity: int = 10) -> Lot:
    return Lot(
        id=source[-20:],
        fixture_id=1,
        result=Outcome.HOME,
        quantity=quantity,
        status=LotStatus.HELD,
        origin=Origin.PURCHASE,
        source=source,
        created_at=NOW,
    )


def test_a_lot_is_added_once_per_source(backend: Backend) -> None:
    """A second lot with the same source is refused and the first is read back intact."""
    with backend.uow() as uow:
        assert uow.inventory.add(_lot())
        assert not uow.inventory.add(_lot())
        uow.commit()
    with backend.uow() as uow:
        assert uow.inventory.get(_lot().id) == _lot()
        assert uow.inventory.by_source("purchase:r1") == _lot()
        assert uow.inventory.lots([LotStatus.HELD]) == [_lot()]
        assert uow.inventory.for_fixture(1) == [_lot()]


def test_take_move_and_settle_are_conditional(backend: Backend) -> None:
    """A lot gives only the bonds it holds, moves only from allowed statuses, settles once."""
    lot = _lot(quantity=3)
    with backend.uow() as uow:
        uow.inventory.add(lot)
        assert not uow.inventory.take(lot.id, 2, [LotStatus.ON_SALE])
        assert uow.inventory.take(lot.id, 2, [LotStatus.HELD])
        assert not uow.inventory.take(lot.id, 2, [LotStatus.HELD])
        assert uow.inventory.move(lot.id, [LotStatus.HELD], LotStatus.ON_SALE, 20)
        assert not uow.inventory.move(lot.id, [LotStatus.HELD], LotStatus.ON_AUCTION)
        assert uow.inventory.mark_settled(lot.id)
        assert not uow.inventory.mark_settled(lot.id)
        uow.commit()
    with backend.uow() as uow:
        found = uow.inventory.get(lot.id)
    assert found is not None
    assert (found.quantity, found.status, found.discount, found.settled) == (
        1,
        LotStatus.ON_SALE,
        20,
        True,
    )


def test_account_entries_happen_once(backend: Backend) -> None:
    """An account entry of the same kind and reference is kept once."""
    entry = AccountEntry(1850, AccountKind.PAYOUT, "lot:1", NOW)
    with backend.uow() as uow:
        assert uow.account.add(entry)
        assert not uow.account.add(entry)
        assert uow.account.add(AccountEntry(800, AccountKind.SALE, "lot:1", NOW))
        uow.commit()
    with backend.uow() as uow:
        assert [e.amount for e in uow.account.entries()] == [1850, 800]


def test_offers_and_proposals_are_decided_once(backend: Backend) -> None:
    """Offers and proposals are inserted once, closed or decided once, and read back."""
    offer = Offer("a1", "6", 1, "PL", "R 1", "Arsenal", 3, AuctionState.OPEN, NOW)
    proposal = Proposal(
        "p1", "a1", "15", 1, "PL", "R 1", "---", 2, ProposalState.PENDING, NOW, lot_id="x"
    )
    with backend.uow() as uow:
        book = uow.auction_book
        assert book.add_offer(offer)
        assert not book.add_offer(offer)
        assert book.add_proposal(proposal)
        assert not book.add_proposal(proposal)
        assert book.decide("p1", ProposalState.REJECTED)
        assert not book.decide("p1", ProposalState.ACCEPTED)
        assert book.close_offer("a1")
        assert not book.close_offer("a1")
        uow.commit()
    with backend.uow() as uow:
        assert uow.auction_book.get_offer("a1") == Offer(
            "a1", "6", 1, "PL", "R 1", "Arsenal", 3, AuctionState.CLOSED, NOW
        )
        assert uow.auction_book.offers(AuctionState.OPEN) == []
        assert uow.auction_book.proposals("a1") == [
            Proposal("p1", "a1", "15", 1, "PL", "R 1", "---", 2, ProposalState.REJECTED, NOW, "x")
        ]
        assert uow.auction_book.get_proposal("nope") is None
        assert uow.auction_book.lock_offer("a1") == uow.auction_book.get_offer("a1")
        assert uow.auction_book.lock_offer("nope") is None


def test_a_traded_lot_is_never_settled(backend: Backend) -> None:
    """A lot traded away is not marked settled, whatever its reader saw before."""
    lot = _lot()
    with backend.uow() as uow:
        uow.inventory.add(lot)
        assert uow.inventory.move(lot.id, [LotStatus.HELD], LotStatus.TRADED)
        assert not uow.inventory.mark_settled(lot.id)
        uow.commit()
    with backend.uow() as uow:
        found = uow.inventory.get(lot.id)
    assert found is not None
    assert not found.settled


def test_only_another_groups_closed_offer_is_replaced(backend: Backend) -> None:
    """A closed offer of another group, backed by no lot of ours, is replaced; an open
    one, one of the same group or one of ours stays as it was."""
    closed = Offer("a1", "7", 1, "PL", "R 1", "Arsenal", 3, AuctionState.CLOSED, NOW)
    real = Offer("a1", "6", 2, "PL", "R 2", "---", 2, AuctionState.OPEN, NOW)
    ours = Offer("a2", "15", 1, "PL", "R 1", "Arsenal", 3, AuctionState.CLOSED, NOW, "lot-1")
    with backend.uow() as uow:
        book = uow.auction_book
        assert book.add_offer(closed)
        assert book.add_offer(ours)
        assert not book.replace_closed_offer(attrs.evolve(real, group_id="7"))
        assert not book.replace_closed_offer(attrs.evolve(real, auction_id="a2"))
        assert book.replace_closed_offer(real)
        assert not book.replace_closed_offer(attrs.evolve(real, group_id="8"))  # open now
        uow.commit()
    with backend.uow() as uow:
        assert uow.auction_book.get_offer("a1") == real
        assert uow.auction_book.get_offer("a2") == ours


@pytest.fixture
def exchange(backend: Backend) -> Exchange:
    """An exchange on the backend with fixture 1 stored."""
    exchange = Exchange(
        uow=backend.uow,
        payments=InMemoryPaymentGateway(payer_pays=True),
        jobs=InMemoryJobQueue(),
        clock=ManualClock(NOW),
        ids=SequentialIds(),
        rules=Rules(group_id="15"),
    )
    assert exchange.receive(TOPIC_INFO, render_fixtures([fixture(1)])) == Handled.APPLIED
    return exchange


def test_whole_group_workflow(backend: Backend, exchange: Exchange) -> None:
    """Group purchase, resale, refusals, auction and swap give the same books everywhere."""
    exchange.top_up(ADMIN.user_id, 10_000)
    bought = exchange.buy_bonds(
        BuyBonds(ADMIN.user_id, 1, Outcome.HOME, 10, wallet=True, seller=15, admin=True)
    )
    verdict = {"request_id": bought.purchase.request_id, "group_id": 1, "seller": 15}
    exchange.receive("fixtures/validation", json.dumps({**verdict, "valid": True}))
    [lot] = exchange.group_inventory(ADMIN)
    exchange.update_lot(ADMIN, lot.lot.id, on_sale=True, discount=30)
    exchange.top_up("bob", 2000)

    sold = exchange.buy_from_lot("bob", lot.lot.id, 2)
    with pytest.raises(NotEnoughMoney):
        exchange.buy_from_lot("bob", lot.lot.id, 1)
    with pytest.raises(LotTooSmall):
        exchange.buy_from_lot("bob", lot.lot.id, 9)

    assert sold.purchase.status is PurchaseStatus.ACCEPTED
    assert exchange.balance("bob") == 600
    assert exchange.group_account(ADMIN)[0] == 1400
    offer = exchange.offer_bonds(ADMIN, lot.lot.id, 5)
    proposal = {
        "auction_id": offer.auction_id,
        "proposal_id": "p-1",
        "fixture_id": 1,
        "league_name": "PL",
        "round": "R",
        "result": "---",
        "quantity": 4,
        "group_id": 6,
        "type": "proposal",
    }
    assert exchange.receive(TOPIC_AUCTIONS, json.dumps(proposal)) == Handled.APPLIED
    exchange.accept_proposal(ADMIN, "p-1")
    inventory = sorted((v.lot.quantity, v.lot.result) for v in exchange.group_inventory(ADMIN))
    assert inventory == [(3, Outcome.HOME), (4, Outcome.DRAW)]
    assert backend.auctions()[-1] == json.dumps(proposal)
