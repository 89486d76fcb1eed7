"""Other groups' messages on ``fixtures/auctions`` (CONTRACT §4b), and the steps of a
trade that our admin's side (``auctions.AuctionHouse``) shares with them.

Every message may come twice, late or out of order: each change is a conditional write
(an offer or proposal inserted once, a proposal decided once, a lot moved once), so each
swap happens once. Messages about auctions or proposals that are not ours change nothing
but the list of open offers; our own messages coming back change nothing at all.

Who settles a lot traded after its fixture ended: the group holding it once its auction
is decided. A lot of ours on auction in another group's auction (our proposal) is not
settled while that group may still accept it (``Lot.is_the_groups``): accepted, it is
theirs; rejected, it is held again and settled then. The offer's lot we receive in the
swap is settled at once if its fixture is over. So each of the two lots pays exactly one
group, once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from goat_core.errors import InvalidInput, MalformedMessage
from goat_core.inventory import (
    AuctionMessage,
    AuctionState,
    AuctionType,
    Lot,
    LotStatus,
    Offer,
    Origin,
    Proposal,
    ProposalState,
    lot_id,
)
from goat_core.model import Fixture, Outcome, Rules
from goat_core.ports import UnitOfWork
from goat_core.services.group import settle_lots
from goat_core.wire import TOPIC_AUCTIONS
from goat_core.wire_auctions import render_auction

__all__ = ["apply_auction", "lock_fixtures", "outcome", "publish", "receive_lot"]

log = logging.getLogger("goat.core")


def apply_auction(uow: UnitOfWork, message: AuctionMessage, rules: Rules, now: datetime) -> bool:
    """Apply a fixtures/auctions message from the broker; True if it changed something.

    ``MalformedMessage`` (a dead letter) for an offer, proposal or acceptance naming more
    bonds than a fixture has: no group holds that many, and a swap would stock them.
    """
    if message.group_id == rules.group_id:
        return False  # our own message coming back
    if message.type is not AuctionType.REJECTION and message.quantity > rules.bonds_per_fixture:
        raise MalformedMessage("quantity", f"no fixture has more than {rules.bonds_per_fixture}")
    book = uow.auction_book
    if message.type is AuctionType.OFFER:
        return _offered(uow, message, rules, now)
    if message.type is AuctionType.PROPOSAL:
        return _record_proposal(uow, message, rules, now)
    if message.type is AuctionType.ACCEPTANCE:
        return _accepted(uow, message, rules, now)
    proposal = book.get_proposal(message.proposal_id)
    if not _ours_answered(proposal, message, book.get_offer(message.auction_id), rules):
        return False
    assert proposal is not None
    uow.fixtures.lock(proposal.fixture_id)  # before its lot moves: see settle_lots
    return _taken_back(uow, proposal, rules, now)  # False: a repeat, or accepted first


def _offered(uow: UnitOfWork, message: AuctionMessage, rules: Rules, now: datetime) -> bool:
    """List another group's offer, once.

    An acceptance that overtook its offer left the auction recorded closed in the name of
    the acceptance's sender; an offer from another group replaces that record (the
    acceptance did not come from the offering group, so it did not count), which a third
    group therefore cannot use to hide an auction.
    """
    offer = _bonds_offer(message, AuctionState.OPEN, now)
    book = uow.auction_book
    if book.add_offer(offer):
        return True
    known = book.get_offer(message.auction_id)
    if known is None or known.group_id == message.group_id:
        return False  # a repeat, or closed by a faster acceptance of its own group
    if any(p.group_id == rules.group_id for p in book.proposals(message.auction_id)):
        return False  # we traded on the auction as it was: it stays as it was
    return book.replace_closed_offer(offer)


def _bonds_offer(message: AuctionMessage, state: AuctionState, now: datetime) -> Offer:
    return Offer(
        auction_id=message.auction_id,
        group_id=message.group_id,
        fixture_id=message.fixture_id,
        league_name=message.league_name,
        round=message.round,
        result=message.result,
        quantity=message.quantity,
        state=state,
        created_at=now,
    )


def _record_proposal(uow: UnitOfWork, message: AuctionMessage, rules: Rules, now: datetime) -> bool:
    """Keep another group's proposal for one of our auctions (others' are ignored).

    A proposal for an auction we closed already is rejected at once, and the rejection
    published, so that the proposing group gets its bonds back.
    """
    book = uow.auction_book
    offer = book.lock_offer(message.auction_id)  # an acceptance closing it waits, or we do
    if offer is None or offer.group_id != rules.group_id:
        return False
    closed = offer.state is AuctionState.CLOSED
    proposal = Proposal(
        proposal_id=message.proposal_id,
        auction_id=message.auction_id,
        group_id=message.group_id,
        fixture_id=message.fixture_id,
        league_name=message.league_name,
        round=message.round,
        result=message.result,
        quantity=message.quantity,
        state=ProposalState.REJECTED if closed else ProposalState.PENDING,
        created_at=now,
    )
    if not book.add_proposal(proposal):
        return False
    if closed:
        publish(uow, offer, proposal.proposal_id, rules.group_id, AuctionType.REJECTION)
    return True


def _accepted(uow: UnitOfWork, message: AuctionMessage, rules: Rules, now: datetime) -> bool:
    """The offering group's acceptance closes its offer here: if it accepts our proposal,
    the swap happens; every other proposal of ours for that auction is rejected by it."""
    book = uow.auction_book
    offer = book.get_offer(message.auction_id)
    if offer is None:
        # it overtook its offer: remember the auction closed, so the offer is never listed
        return book.add_offer(_bonds_offer(message, AuctionState.CLOSED, now))
    if offer.group_id != message.group_id:
        return False  # only the offering group accepts
    ours = [p for p in book.proposals(offer.auction_id) if p.group_id == rules.group_id]
    # the fixtures of every lot this may move or receive, before any of them moves
    lock_fixtures(uow, offer.fixture_id, *(p.fixture_id for p in ours))
    changed = book.close_offer(offer.auction_id)
    for proposal in ours:
        if proposal.proposal_id == message.proposal_id:
            changed = _swapped(uow, proposal, offer, rules, now) or changed
        elif _taken_back(uow, proposal, rules, now):
            changed = True
    return changed


def _swapped(
    uow: UnitOfWork, proposal: Proposal, offer: Offer, rules: Rules, now: datetime
) -> bool:
    """Our proposal accepted: its lot is traded away and the offer's bonds come in, once."""
    if not uow.auction_book.decide(proposal.proposal_id, ProposalState.ACCEPTED):
        return False  # a repeat, or rejected first (the first verdict wins)
    if proposal.lot_id is not None:
        uow.inventory.move(proposal.lot_id, (LotStatus.ON_AUCTION,), LotStatus.TRADED)
    result = outcome(uow.fixtures.get(offer.fixture_id), offer.result)
    if result is None:
        raise InvalidInput(
            "result", f"{offer.result!r} names no result of fixture {offer.fixture_id}"
        )
    source = f"swap:{proposal.proposal_id}"
    receive_lot(uow, source, offer.fixture_id, result, offer.quantity, rules, now)
    log.info(
        "our proposal %s was accepted: %d bonds received", proposal.proposal_id, offer.quantity
    )
    return True


def _taken_back(uow: UnitOfWork, proposal: Proposal, rules: Rules, now: datetime) -> bool:
    """Our proposal rejected (by the offering group, or by its acceptance of another):
    its bonds are held again, once, and settled if their fixture is over."""
    if not uow.auction_book.decide(proposal.proposal_id, ProposalState.REJECTED):
        return False
    if proposal.lot_id is not None:
        uow.inventory.move(proposal.lot_id, (LotStatus.ON_AUCTION,), LotStatus.HELD)
        settle_lots(uow, proposal.fixture_id, rules, now)
    log.info("our proposal %s was rejected: its bonds are held again", proposal.proposal_id)
    return True


def _ours_answered(
    proposal: Proposal | None, message: AuctionMessage, offer: Offer | None, rules: Rules
) -> bool:
    """Whether ``message`` answers one of our proposals, sent by the auction's group."""
    return (
        proposal is not None
        and proposal.group_id == rules.group_id
        and proposal.auction_id == message.auction_id
        and (offer is None or offer.group_id == message.group_id)
    )


def lock_fixtures(uow: UnitOfWork, *fixture_ids: int) -> None:
    """Lock these fixtures' results in id order, the order every transaction takes them
    in (no deadlock): a final result recorded meanwhile waits for us, or we see it."""
    for fixture_id in sorted(set(fixture_ids)):
        uow.fixtures.lock(fixture_id)


def receive_lot(
    uow: UnitOfWork,
    source: str,
    fixture_id: int,
    result: Outcome,
    quantity: int,
    rules: Rules,
    now: datetime,
) -> None:
    """Bonds received in a trade: a new held lot (once per source), settled if it is over.

    The caller holds the fixture's lock (``lock_fixtures``).
    """
    lot = Lot(
        id=lot_id(source),
        fixture_id=fixture_id,
        result=result,
        quantity=quantity,
        status=LotStatus.HELD,
        origin=Origin.AUCTION,
        source=source,
        created_at=now,
    )
    if uow.inventory.add(lot):
        settle_lots(uow, fixture_id, rules, now)


def outcome(fixture: Fixture | None, result: str) -> Outcome | None:
    """The outcome ``result`` (as the wire says it) names on ``fixture``, if any."""
    return fixture.outcome_of(result) if fixture is not None else None


def publish(
    uow: UnitOfWork, bonds: Offer | Proposal, proposal_id: str, group_id: str, kind: AuctionType
) -> None:
    """Queue our message in the outbox: it names the bonds of ``bonds``."""
    message = AuctionMessage(
        auction_id=bonds.auction_id,
        proposal_id=proposal_id,
        fixture_id=bonds.fixture_id,
        league_name=bonds.league_name,
        round=bonds.round,
        result=bonds.result,
        quantity=bonds.quantity,
        group_id=group_id,
        type=kind,
    )
    uow.outbox.add(TOPIC_AUCTIONS, render_auction(message))
