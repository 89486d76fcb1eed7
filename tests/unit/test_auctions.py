"""Auctions between groups (CONTRACT §4b): offers, proposals, answers, from both sides."""

from __future__ import annotations

import json

import pytest

from goat_adapters.memory.world import World
from goat_core.errors import (
    Conflict,
    Forbidden,
    LotTooSmall,
    MalformedMessage,
    UnknownAuction,
    UnknownProposal,
)
from goat_core.inventory import (
    AuctionMessage,
    AuctionState,
    AuctionType,
    LotStatus,
    Origin,
    ProposalState,
)
from goat_core.model import Outcome, Viewer
from goat_core.services import Handled
from goat_core.wire import TOPIC_AUCTIONS
from goat_core.wire_auctions import parse_auction, render_auction
from tests.unit.group_support import ADMIN, auction_payload, group_lot, held, receive_auction
from tests.unit.support import USER


def _lots(world: World, status: LotStatus) -> list[tuple[int, Outcome, Origin]]:
    return [(x.quantity, x.result, x.origin) for x in world.store.lots() if x.status is status]


def test_offer_holds_bonds_and_publishes(world: World) -> None:
    """An offer moves its bonds to a lot held on auction and publishes an ``offer``."""
    lot = group_lot(world, 10)

    offer = world.exchange.offer_bonds(ADMIN, lot.id, 4)

    [sent] = world.published(TOPIC_AUCTIONS)
    assert sent["type"] == "offer"
    assert sent["auction_id"] == offer.auction_id
    assert sent["proposal_id"] == ""
    assert sent["group_id"] == 15
    assert (sent["result"], sent["quantity"], sent["fixture_id"]) == ("Arsenal", 4, 1)
    assert _lots(world, LotStatus.HELD) == [(6, Outcome.HOME, Origin.PURCHASE)]
    assert _lots(world, LotStatus.ON_AUCTION) == [(4, Outcome.HOME, Origin.PURCHASE)]


def test_offer_of_more_than_the_lot_is_refused(world: World) -> None:
    """Offering more bonds than the lot holds is a conflict that changes nothing."""
    lot = group_lot(world, 2)

    with pytest.raises(LotTooSmall):
        world.exchange.offer_bonds(ADMIN, lot.id, 3)
    assert world.published(TOPIC_AUCTIONS) == []


def test_auctions_are_for_admins(world: World) -> None:
    """A user who is not an admin can neither offer nor list offers."""
    lot = group_lot(world, 2)

    with pytest.raises(Forbidden):
        world.exchange.offer_bonds(Viewer(USER), lot.id, 1)
    with pytest.raises(Forbidden):
        world.exchange.open_offers(Viewer(USER))


def test_proposal_for_our_auction_is_listed_once(world: World) -> None:
    """Another group's proposal for our auction is listed, pending, once however often sent."""
    lot = group_lot(world, 10)
    offer = world.exchange.offer_bonds(ADMIN, lot.id, 2)

    assert receive_auction(world, "proposal", offer.auction_id, "p-1") == Handled.APPLIED
    receive_auction(world, "proposal", offer.auction_id, "p-1", quantity=3)  # same id, reworded

    [proposal] = world.exchange.received_proposals(ADMIN)
    assert (proposal.proposal_id, proposal.state) == ("p-1", ProposalState.PENDING)


def test_proposal_for_another_groups_auction_is_ignored(world: World) -> None:
    """A proposal for an auction that is not ours is not listed."""
    receive_auction(world, "offer", "a-7", group_id=7)

    assert receive_auction(world, "proposal", "a-7", "p-1") == Handled.IGNORED
    assert world.exchange.received_proposals(ADMIN) == []


def test_accepting_swaps_and_rejects_the_others(world: World) -> None:
    """Accepting one proposal trades our bonds away, brings theirs in, rejects the rest and
    closes the auction; every answer is published."""
    lot = group_lot(world, 10)
    offer = world.exchange.offer_bonds(ADMIN, lot.id, 4)
    receive_auction(world, "proposal", offer.auction_id, "p-1", quantity=3)
    receive_auction(world, "proposal", offer.auction_id, "p-2", group_id=7)

    world.exchange.accept_proposal(ADMIN, "p-1")

    sent = [(m["type"], m["proposal_id"]) for m in world.published(TOPIC_AUCTIONS)]
    assert sent == [("offer", ""), ("acceptance", "p-1"), ("rejection", "p-2")]
    states = {p.proposal_id: p.state for p in world.exchange.received_proposals(ADMIN)}
    assert states == {"p-1": ProposalState.ACCEPTED, "p-2": ProposalState.REJECTED}
    assert _lots(world, LotStatus.TRADED) == [(4, Outcome.HOME, Origin.PURCHASE)]
    assert (3, Outcome.AWAY, Origin.AUCTION) in _lots(world, LotStatus.HELD)
    assert world.exchange.our_offers(ADMIN)[0].state is AuctionState.CLOSED
    with pytest.raises(Conflict):
        world.exchange.accept_proposal(ADMIN, "p-2")


def test_accepting_twice_swaps_once(world: World) -> None:
    """A second acceptance of the same proposal is refused and changes nothing."""
    lot = group_lot(world, 10)
    offer = world.exchange.offer_bonds(ADMIN, lot.id, 4)
    receive_auction(world, "proposal", offer.auction_id, "p-1")
    world.exchange.accept_proposal(ADMIN, "p-1")
    before = world.snapshot()

    with pytest.raises(Conflict):
        world.exchange.accept_proposal(ADMIN, "p-1")
    assert world.snapshot() == before


def test_late_proposal_on_a_closed_auction_is_rejected(world: World) -> None:
    """A proposal arriving after we accepted another is rejected at once and told so."""
    lot = group_lot(world, 10)
    offer = world.exchange.offer_bonds(ADMIN, lot.id, 4)
    receive_auction(world, "proposal", offer.auction_id, "p-1")
    world.exchange.accept_proposal(ADMIN, "p-1")

    receive_auction(world, "proposal", offer.auction_id, "p-late", group_id=8)

    assert world.published(TOPIC_AUCTIONS)[-1]["type"] == "rejection"
    assert world.published(TOPIC_AUCTIONS)[-1]["proposal_id"] == "p-late"


def test_rejecting_a_proposal_publishes_it(world: World) -> None:
    """Rejecting a proposal publishes a rejection and keeps the auction open."""
    lot = group_lot(world, 10)
    offer = world.exchange.offer_bonds(ADMIN, lot.id, 4)
    receive_auction(world, "proposal", offer.auction_id, "p-1")

    world.exchange.reject_proposal(ADMIN, "p-1")

    assert world.published(TOPIC_AUCTIONS)[-1]["type"] == "rejection"
    assert world.exchange.our_offers(ADMIN)[0].state is AuctionState.OPEN
    with pytest.raises(UnknownProposal):
        world.exchange.reject_proposal(ADMIN, "p-unknown")


def test_other_groups_offer_is_listed_until_accepted(world: World) -> None:
    """Another group's offer is listed until an acceptance for it is seen."""
    receive_auction(world, "offer", "a-1")
    receive_auction(world, "offer", "a-1")
    assert [o.auction_id for o in world.exchange.open_offers(ADMIN)] == ["a-1"]

    receive_auction(world, "acceptance", "a-1", "p-someone")

    assert world.exchange.open_offers(ADMIN) == []


def test_acceptance_before_its_offer_keeps_the_offer_unlisted(world: World) -> None:
    """An acceptance that overtakes its offer closes it: the late offer is never listed."""
    receive_auction(world, "acceptance", "a-1", "p-someone")
    receive_auction(world, "offer", "a-1")

    assert world.exchange.open_offers(ADMIN) == []


def test_acceptance_of_our_proposal_swaps_once(world: World) -> None:
    """An acceptance of our proposal gives us the offer's bonds and takes ours, once."""
    lot = group_lot(world, 10)
    receive_auction(world, "offer", "a-1", quantity=3)
    proposal = world.exchange.propose_bonds(ADMIN, "a-1", lot.id, 2)
    assert world.published(TOPIC_AUCTIONS)[-1]["type"] == "proposal"

    for _ in range(2):
        receive_auction(world, "acceptance", "a-1", proposal.proposal_id, quantity=3)
    receive_auction(world, "rejection", "a-1", proposal.proposal_id, quantity=3)

    assert world.exchange.my_proposals(ADMIN)[0].state is ProposalState.ACCEPTED
    assert _lots(world, LotStatus.TRADED) == [(2, Outcome.HOME, Origin.PURCHASE)]
    assert (3, Outcome.AWAY, Origin.AUCTION) in _lots(world, LotStatus.HELD)
    assert held(world) == 8 + 3


def test_rejection_of_our_proposal_returns_the_bonds(world: World) -> None:
    """A rejection of our proposal returns its held bonds to the inventory, once."""
    lot = group_lot(world, 10)
    receive_auction(world, "offer", "a-1")
    proposal = world.exchange.propose_bonds(ADMIN, "a-1", lot.id, 2)

    receive_auction(world, "rejection", "a-1", proposal.proposal_id)
    receive_auction(world, "rejection", "a-1", proposal.proposal_id)
    receive_auction(world, "acceptance", "a-1", proposal.proposal_id)  # too late: first wins

    assert world.exchange.my_proposals(ADMIN)[0].state is ProposalState.REJECTED
    assert held(world) == 10
    assert _lots(world, LotStatus.ON_AUCTION) == []


def test_answers_to_other_groups_proposals_change_nothing(world: World) -> None:
    """A rejection or acceptance of a proposal that is not ours swaps nothing."""
    group_lot(world, 10)
    receive_auction(world, "offer", "a-1")

    receive_auction(world, "rejection", "a-1", "p-theirs")
    receive_auction(world, "acceptance", "a-1", "p-theirs")

    assert held(world) == 10
    assert len(world.store.lots()) == 1


def test_our_own_messages_coming_back_change_nothing(world: World) -> None:
    """Our published auction messages, echoed by the broker, change nothing."""
    lot = group_lot(world, 10)
    offer = world.exchange.offer_bonds(ADMIN, lot.id, 4)
    receive_auction(world, "proposal", offer.auction_id, "p-1")
    world.exchange.accept_proposal(ADMIN, "p-1")
    before = world.snapshot(), world.store.lots(), world.store.proposals()

    for message in world.published(TOPIC_AUCTIONS):
        assert world.exchange.receive(TOPIC_AUCTIONS, json.dumps(message)) == Handled.IGNORED

    assert (world.snapshot(), world.store.lots(), world.store.proposals()) == before


def test_proposing_to_unknown_or_our_own_auction_is_not_found(world: World) -> None:
    """A proposal names another group's known auction."""
    lot = group_lot(world, 10)
    offer = world.exchange.offer_bonds(ADMIN, lot.id, 1)

    with pytest.raises(UnknownAuction):
        world.exchange.propose_bonds(ADMIN, "nope", lot.id, 1)
    with pytest.raises(UnknownAuction):
        world.exchange.propose_bonds(ADMIN, offer.auction_id, lot.id, 1)


def test_malformed_auction_message_is_a_dead_letter(world: World) -> None:
    """An auction message of an unknown type is kept as a dead letter."""
    payload = json.dumps({"auction_id": "a", "type": "bid", "quantity": 1})

    assert world.exchange.receive(TOPIC_AUCTIONS, payload) == Handled.MALFORMED
    assert world.store.dead_letters()[0].reason.startswith("type")


def test_auction_wire_reads_what_peers_send() -> None:
    """Ids as numbers, group ids as strings or ints and a type in any case are read."""
    message = parse_auction(
        json.dumps(
            {
                "auction_id": 17,
                "proposal_id": None,
                "fixture_id": "1208083",
                "league_name": "PL",
                "round": "R 1",
                "result": "---",
                "quantity": 2,
                "group_id": "6",
                "type": "Offer",
            }
        )
    )

    assert (message.auction_id, message.proposal_id, message.group_id) == ("17", "", "6")
    assert (message.type, message.fixture_id) == (AuctionType.OFFER, 1208083)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "proposal", "proposal_id": ""}, "proposal_id"),
        ({"auction_id": ""}, "auction_id"),
        ({"quantity": 0}, "quantity"),
        ({"group_id": None}, "group_id"),
    ],
)
def test_auction_wire_refuses_what_cannot_be_applied(change: dict[str, object], field: str) -> None:
    """A message without what its type needs is malformed, naming the field."""
    payload = {**auction_payload("offer"), **change}

    with pytest.raises(MalformedMessage) as raised:
        parse_auction(json.dumps(payload))
    assert raised.value.field == field


def test_our_auction_messages_carry_our_group_as_an_int() -> None:
    """We send group_id as an int on fixtures/auctions, as CONTRACT §3 says."""
    message = AuctionMessage("a", "p", 1, "PL", "R", "---", 2, "15", AuctionType.ACCEPTANCE)

    sent = json.loads(render_auction(message))

    assert sent["group_id"] == 15
    assert parse_auction(render_auction(message)) == message
