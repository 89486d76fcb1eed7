"""Auctions and the group's account (CONTRACT §4b): each lot pays once, whoever holds it
when its auction is decided; every proposal gets one verdict; peers cannot hide or inflate."""

from __future__ import annotations

import attrs
import pytest

from goat_adapters.memory.inventory import MemoryAuctionBook
from goat_adapters.memory.world import World
from goat_core.errors import Conflict, FixtureStarted
from goat_core.inventory import AccountKind, LotStatus, Proposal, ProposalState
from goat_core.services import Handled
from goat_core.wire import TOPIC_AUCTIONS
from tests.unit.group_support import ADMIN, group_lot, held, receive_auction
from tests.unit.support import make_fixture

WIN = 1850  # one home bond of fixture 1 when Arsenal win (odd 1.85)


def _paid(world: World) -> int:
    return sum(e.amount for e in world.store.account() if e.kind is AccountKind.PAYOUT)


def _traded_paid(world: World) -> list[str]:
    """Lots traded away that have a payout entry (there should be none)."""
    paid = {e.reference for e in world.store.account() if e.kind is AccountKind.PAYOUT}
    return [
        x.id for x in world.store.lots() if x.status is LotStatus.TRADED and f"lot:{x.id}" in paid
    ]


def _ours(world: World) -> Proposal:
    [ours] = [p for p in world.store.proposals() if p.group_id == world.rules.group_id]
    return ours


def test_accepting_after_the_fixture_ended_is_refused_and_pays_once(world: World) -> None:
    """A proposal accepted after the offer's fixture ended is refused (FixtureStarted): the
    offered bonds, the group's at the result, are paid once and never traded."""
    lot = group_lot(world, 10)
    offer = world.exchange.offer_bonds(ADMIN, lot.id, 4)
    receive_auction(world, "proposal", offer.auction_id, "p-1", result="Arsenal", quantity=4)
    world.result(1, "FT", 2, 0)
    assert _paid(world) == 10 * WIN

    with pytest.raises(FixtureStarted):
        world.exchange.accept_proposal(ADMIN, "p-1")

    assert _paid(world) == 10 * WIN
    assert [x for x in world.store.lots() if x.status is LotStatus.TRADED] == []


def test_accepting_a_proposal_of_a_started_fixture_is_refused(world: World) -> None:
    """A proposal whose bonds' fixture has started is not accepted, though ours has not."""
    world.add_fixtures(make_fixture(2, home="Leeds", away="Wolves"))
    lot = group_lot(world, 10, fixture_id=2)
    offer = world.exchange.offer_bonds(ADMIN, lot.id, 4)
    receive_auction(world, "proposal", offer.auction_id, "p-1", result="Arsenal", quantity=4)
    world.result(1, "1H", 0, 0)

    with pytest.raises(FixtureStarted):
        world.exchange.accept_proposal(ADMIN, "p-1")
    assert world.exchange.received_proposals(ADMIN)[0].state is ProposalState.PENDING


def test_acceptance_of_our_proposal_after_the_end_pays_each_lot_once(world: World) -> None:
    """Our proposal accepted after both fixtures ended: the bonds we gave are not paid to
    us (they were on auction, the other group's once accepted), those received are, once."""
    lot = group_lot(world, 10)
    receive_auction(world, "offer", "a-9", result="Arsenal", quantity=5)
    world.exchange.propose_bonds(ADMIN, "a-9", lot.id, 5)
    world.result(1, "FT", 2, 0)
    assert _paid(world) == 5 * WIN  # the 5 held; the 5 proposed wait for the answer

    for _ in range(2):
        receive_auction(world, "acceptance", "a-9", _ours(world).proposal_id, quantity=5)

    assert _paid(world) == 10 * WIN
    assert _traded_paid(world) == []


def test_rejection_of_our_proposal_after_the_end_pays_its_bonds(world: World) -> None:
    """Our proposal rejected after its fixture ended: its bonds are held again and paid."""
    lot = group_lot(world, 10)
    receive_auction(world, "offer", "a-9", result="Arsenal", quantity=5)
    world.exchange.propose_bonds(ADMIN, "a-9", lot.id, 5)
    world.result(1, "FT", 2, 0)

    for _ in range(2):
        receive_auction(world, "rejection", "a-9", _ours(world).proposal_id, quantity=5)

    assert _paid(world) == 10 * WIN
    assert all(x.settled for x in world.store.lots())


def test_proposing_for_an_offer_of_a_started_fixture_is_refused(world: World) -> None:
    """We do not propose bonds for another group's offer once its fixture has started."""
    world.add_fixtures(make_fixture(2, home="Leeds", away="Wolves"))
    lot = group_lot(world, 10)
    receive_auction(world, "offer", "a-9", fixture_id=2, result="Leeds", quantity=5)
    world.result(2, "FT", 1, 0)

    with pytest.raises(FixtureStarted):
        world.exchange.propose_bonds(ADMIN, "a-9", lot.id, 5)
    assert held(world) == 10


def test_accept_loses_to_a_rejection_decided_meanwhile(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An acceptance whose proposal a concurrent rejection decided first is a Conflict that
    swaps nothing and publishes no acceptance."""
    lot = group_lot(world, 10)
    offer = world.exchange.offer_bonds(ADMIN, lot.id, 4)
    receive_auction(world, "proposal", offer.auction_id, "p-1", quantity=4)
    world.exchange.reject_proposal(ADMIN, "p-1")  # committed by another admin
    real = MemoryAuctionBook.get_proposal
    reads = []

    def read_before_the_rejection(book: MemoryAuctionBook, proposal_id: str) -> Proposal | None:
        found = real(book, proposal_id)
        reads.append(proposal_id)
        if len(reads) == 1 and found is not None:
            return attrs.evolve(found, state=ProposalState.PENDING)
        return found

    monkeypatch.setattr(MemoryAuctionBook, "get_proposal", read_before_the_rejection)
    with pytest.raises(Conflict):
        world.exchange.accept_proposal(ADMIN, "p-1")

    kinds = [m["type"] for m in world.published(TOPIC_AUCTIONS)]
    assert kinds == ["offer", "rejection"]
    assert [x for x in world.store.lots() if x.status is LotStatus.TRADED] == []
    assert world.exchange.our_offers(ADMIN)[0].state.value == "open"


def test_our_proposal_is_rejected_when_the_offering_group_accepts_another(world: World) -> None:
    """The offering group's acceptance of another proposal rejects ours and returns its
    bonds to the inventory, once however often it comes."""
    lot = group_lot(world, 10)
    receive_auction(world, "offer", "a-9", result="Arsenal", quantity=5)
    world.exchange.propose_bonds(ADMIN, "a-9", lot.id, 5)

    receive_auction(world, "acceptance", "a-9", "their-other", result="Arsenal", quantity=5)
    receive_auction(world, "acceptance", "a-9", "their-other", result="Arsenal", quantity=4)

    assert _ours(world).state is ProposalState.REJECTED
    assert [x for x in world.store.lots() if x.status is LotStatus.ON_AUCTION] == []
    assert held(world) == 10


def test_acceptance_from_another_group_does_not_hide_a_later_offer(world: World) -> None:
    """An acceptance that overtakes an offer but comes from another group than the offer's
    does not keep that offer from being listed."""
    receive_auction(world, "acceptance", "a-1", "p-x", group_id=7)

    assert receive_auction(world, "offer", "a-1", group_id=6) == Handled.APPLIED

    [offer] = world.exchange.open_offers(ADMIN)
    assert (offer.auction_id, offer.group_id) == ("a-1", "6")
    receive_auction(world, "acceptance", "a-1", "p-y", group_id=7)  # still not the owner's
    assert world.exchange.open_offers(ADMIN) == [offer]


@pytest.mark.parametrize("kind", ["offer", "proposal", "acceptance"])
def test_peer_quantities_beyond_a_fixture_are_dead_letters(world: World, kind: str) -> None:
    """An offer, proposal or acceptance naming more bonds than a fixture has is kept as a
    dead letter and changes nothing."""
    lot = group_lot(world, 10)
    auction = world.exchange.offer_bonds(ADMIN, lot.id, 4).auction_id
    before = world.store.lots(), world.store.offers(), world.store.proposals()

    handled = receive_auction(world, kind, auction, "p-1", quantity=2**31 - 1)

    assert handled == Handled.MALFORMED
    assert world.store.dead_letters()[-1].reason.startswith("quantity")
    assert (world.store.lots(), world.store.offers(), world.store.proposals()) == before


def test_accepting_a_proposal_beyond_a_fixture_is_refused(world: World) -> None:
    """A stored proposal naming more bonds than a fixture has is not accepted."""
    lot = group_lot(world, 10)
    offer = world.exchange.offer_bonds(ADMIN, lot.id, 4)
    receive_auction(world, "proposal", offer.auction_id, "p-1", quantity=4)
    with world.store.unit_of_work() as uow:  # as recorded before quantities were capped
        found = uow.auction_book.get_proposal("p-1")
        assert found is not None
        uow.auction_book.decide("p-1", ProposalState.REJECTED)
        uow.auction_book.add_proposal(attrs.evolve(found, proposal_id="p-2", quantity=41))
        uow.commit()

    with pytest.raises(Conflict):
        world.exchange.accept_proposal(ADMIN, "p-2")
    assert [x for x in world.store.lots() if x.status is LotStatus.TRADED] == []
