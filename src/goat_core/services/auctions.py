"""Auctions between groups on ``fixtures/auctions`` (CONTRACT §4b).

Our admin offers bonds of a lot (``offer``), proposes bonds for another group's offer
(``propose``), and answers proposals for our offers (``accept``, ``reject``); each
publishes its message through the outbox in the transaction that changes the books.
Bonds offered or proposed leave their lot for a lot of their own, held ``on_auction``
until the trade is decided.

From the broker (``apply_auction``), every message may come twice, late or out of
order: each change is a conditional write (an offer or proposal inserted once, a
proposal decided once, a lot moved once), so each swap happens once. Messages about
auctions or proposals that are not ours change nothing but the list of open offers;
our own messages coming back change nothing at all.
"""

from __future__ import annotations

import logging
from datetime import datetime

from goat_core.errors import (
    Conflict,
    FixtureStarted,
    InvalidInput,
    LotTooSmall,
    UnknownAuction,
    UnknownLot,
    UnknownProposal,
)
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
from goat_core.model import Fixture, Outcome, Rules, Viewer
from goat_core.ports import UnitOfWork
from goat_core.services.context import Context
from goat_core.services.group import MAX_LOT_PURCHASE, settle_lots
from goat_core.services.queries import require_admin
from goat_core.wire import TOPIC_AUCTIONS
from goat_core.wire_auctions import render_auction

__all__ = ["AuctionHouse", "apply_auction"]

log = logging.getLogger("goat.core")

_TRADABLE = (LotStatus.HELD, LotStatus.ON_SALE)


class AuctionHouse:
    """Our admin's side of the auctions."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def offer(self, viewer: Viewer, lot: str, quantity: int) -> Offer:
        """Put ``quantity`` bonds of a lot up for auction and publish the ``offer``."""
        require_admin(viewer)
        context, rules = self._context, self._context.rules
        auction_id = context.ids.new_id()
        now = context.clock.now()
        with context.uow() as uow:
            held, fixture = _hold(uow, lot, quantity, f"offer:{auction_id}", now)
            offer = Offer(
                auction_id=auction_id,
                group_id=rules.group_id,
                fixture_id=fixture.id,
                league_name=fixture.league.name,
                round=fixture.league.round,
                result=fixture.wire_result(held.result),
                quantity=quantity,
                state=AuctionState.OPEN,
                created_at=now,
                lot_id=held.id,
            )
            uow.auction_book.add_offer(offer)
            _publish(uow, offer, "", rules.group_id, AuctionType.OFFER)
            uow.commit()
        log.info("auction %s: %d bonds of lot %s offered", auction_id, quantity, lot)
        return offer

    def propose(self, viewer: Viewer, auction_id: str, lot: str, quantity: int) -> Proposal:
        """Propose ``quantity`` bonds of a lot for another group's open offer."""
        require_admin(viewer)
        context, rules = self._context, self._context.rules
        proposal_id = context.ids.new_id()
        now = context.clock.now()
        with context.uow() as uow:
            offer = uow.auction_book.get_offer(auction_id)
            if offer is None or offer.group_id == rules.group_id:
                raise UnknownAuction(auction_id)
            if offer.state is not AuctionState.OPEN:
                raise Conflict(f"auction {auction_id} is closed")
            if _outcome(uow.fixtures.get(offer.fixture_id), offer.result) is None:
                raise Conflict(f"auction {auction_id} offers bonds of a fixture unknown here")
            held, fixture = _hold(uow, lot, quantity, f"proposal:{proposal_id}", now)
            proposal = Proposal(
                proposal_id=proposal_id,
                auction_id=auction_id,
                group_id=rules.group_id,
                fixture_id=fixture.id,
                league_name=fixture.league.name,
                round=fixture.league.round,
                result=fixture.wire_result(held.result),
                quantity=quantity,
                state=ProposalState.PENDING,
                created_at=now,
                lot_id=held.id,
            )
            uow.auction_book.add_proposal(proposal)
            _publish(uow, proposal, proposal_id, rules.group_id, AuctionType.PROPOSAL)
            uow.commit()
        log.info("proposal %s for auction %s: %d bonds", proposal_id, auction_id, quantity)
        return proposal

    def accept(self, viewer: Viewer, proposal_id: str) -> Proposal:
        """Accept a proposal for our auction: the swap, then every other one rejected.

        Our offered bonds are traded away, the proposed ones come into the inventory, and
        ``acceptance`` and each ``rejection`` are published. ``Conflict`` if the proposal
        is decided or the auction closed.
        """
        require_admin(viewer)
        context, rules = self._context, self._context.rules
        now = context.clock.now()
        with context.uow() as uow:
            proposal, offer = _proposal_for_us(uow, proposal_id, rules)
            result = _outcome(uow.fixtures.get(proposal.fixture_id), proposal.result)
            if result is None:
                raise Conflict(f"proposal {proposal_id} offers bonds of a fixture unknown here")
            if proposal.state is not ProposalState.PENDING:
                raise Conflict(f"proposal {proposal_id} is {proposal.state} already")
            if not uow.auction_book.close_offer(offer.auction_id):
                raise Conflict(f"auction {offer.auction_id} is closed")
            uow.auction_book.decide(proposal_id, ProposalState.ACCEPTED)
            if offer.lot_id is not None:
                uow.inventory.move(offer.lot_id, (LotStatus.ON_AUCTION,), LotStatus.TRADED)
            _receive_lot(
                uow,
                f"swap:{proposal_id}",
                proposal.fixture_id,
                result,
                proposal.quantity,
                rules,
                now,
            )
            _publish(uow, offer, proposal_id, rules.group_id, AuctionType.ACCEPTANCE)
            for other in uow.auction_book.proposals(offer.auction_id):
                if other.state is ProposalState.PENDING:
                    uow.auction_book.decide(other.proposal_id, ProposalState.REJECTED)
                    _publish(uow, offer, other.proposal_id, rules.group_id, AuctionType.REJECTION)
            uow.commit()
            decided = uow.auction_book.get_proposal(proposal_id)
        assert decided is not None
        log.info("auction %s: proposal %s accepted", offer.auction_id, proposal_id)
        return decided

    def reject(self, viewer: Viewer, proposal_id: str) -> Proposal:
        """Reject a pending proposal for our auction and publish the ``rejection``."""
        require_admin(viewer)
        context, rules = self._context, self._context.rules
        with context.uow() as uow:
            proposal, offer = _proposal_for_us(uow, proposal_id, rules)
            if not uow.auction_book.decide(proposal_id, ProposalState.REJECTED):
                raise Conflict(f"proposal {proposal_id} is {proposal.state} already")
            _publish(uow, offer, proposal_id, rules.group_id, AuctionType.REJECTION)
            uow.commit()
            decided = uow.auction_book.get_proposal(proposal_id)
        assert decided is not None
        return decided

    def open_offers(self, viewer: Viewer) -> list[Offer]:
        """Other groups' offers not yet accepted, oldest first (admins)."""
        require_admin(viewer)
        with self._context.uow() as uow:
            offers = uow.auction_book.offers(AuctionState.OPEN)
        return [o for o in offers if o.group_id != self._context.rules.group_id]

    def our_offers(self, viewer: Viewer) -> list[Offer]:
        """Our auctions, open and closed, oldest first (admins)."""
        require_admin(viewer)
        group = self._context.rules.group_id
        with self._context.uow() as uow:
            book = uow.auction_book
            offers = book.offers(AuctionState.OPEN) + book.offers(AuctionState.CLOSED)
        return sorted((o for o in offers if o.group_id == group), key=lambda o: o.created_at)

    def received_proposals(self, viewer: Viewer) -> list[Proposal]:
        """Other groups' proposals for our auctions, with their state (admins)."""
        require_admin(viewer)
        group = self._context.rules.group_id
        with self._context.uow() as uow:
            return [p for p in uow.auction_book.proposals() if p.group_id != group]

    def my_proposals(self, viewer: Viewer) -> list[Proposal]:
        """Our proposals for other groups' auctions, with their state (admins)."""
        require_admin(viewer)
        group = self._context.rules.group_id
        with self._context.uow() as uow:
            return [p for p in uow.auction_book.proposals() if p.group_id == group]


def apply_auction(uow: UnitOfWork, message: AuctionMessage, rules: Rules, now: datetime) -> bool:
    """Apply a fixtures/auctions message from the broker; True if it changed something."""
    if message.group_id == rules.group_id:
        return False  # our own message coming back
    book = uow.auction_book
    if message.type is AuctionType.OFFER:
        offer = Offer(
            auction_id=message.auction_id,
            group_id=message.group_id,
            fixture_id=message.fixture_id,
            league_name=message.league_name,
            round=message.round,
            result=message.result,
            quantity=message.quantity,
            state=AuctionState.OPEN,
            created_at=now,
        )
        return book.add_offer(offer)  # known: a repeat, or closed by a faster acceptance
    if message.type is AuctionType.PROPOSAL:
        return _record_proposal(uow, message, rules, now)
    if message.type is AuctionType.ACCEPTANCE:
        return _accepted(uow, message, rules, now)
    proposal = book.get_proposal(message.proposal_id)
    if not _ours_answered(proposal, message, book.get_offer(message.auction_id), rules):
        return False
    assert proposal is not None
    if not book.decide(proposal.proposal_id, ProposalState.REJECTED):
        return False  # a repeat, or accepted first (the first verdict wins)
    if proposal.lot_id is not None:
        uow.inventory.move(proposal.lot_id, (LotStatus.ON_AUCTION,), LotStatus.HELD)
    log.info("our proposal %s was rejected: its bonds are held again", proposal.proposal_id)
    return True


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
        _publish(uow, offer, proposal.proposal_id, rules.group_id, AuctionType.REJECTION)
    return True


def _accepted(uow: UnitOfWork, message: AuctionMessage, rules: Rules, now: datetime) -> bool:
    """An acceptance closes its offer here; if it accepts our proposal, the swap happens."""
    book = uow.auction_book
    offer = book.get_offer(message.auction_id)
    changed = False
    if offer is None:
        # it overtook its offer: remember the auction closed, so the offer is never listed
        changed = book.add_offer(
            Offer(
                auction_id=message.auction_id,
                group_id=message.group_id,
                fixture_id=message.fixture_id,
                league_name=message.league_name,
                round=message.round,
                result=message.result,
                quantity=message.quantity,
                state=AuctionState.CLOSED,
                created_at=now,
            )
        )
        offer = book.get_offer(message.auction_id)
    elif offer.group_id == message.group_id:
        changed = book.close_offer(offer.auction_id)
    proposal = book.get_proposal(message.proposal_id)
    if not _ours_answered(proposal, message, offer, rules):
        return changed
    assert proposal is not None
    assert offer is not None
    if not book.decide(proposal.proposal_id, ProposalState.ACCEPTED):
        return changed  # a repeat, or rejected first (the first verdict wins)
    if proposal.lot_id is not None:
        uow.inventory.move(proposal.lot_id, (LotStatus.ON_AUCTION,), LotStatus.TRADED)
    result = _outcome(uow.fixtures.get(offer.fixture_id), offer.result)
    if result is None:
        raise InvalidInput(
            "result", f"{offer.result!r} names no result of fixture {offer.fixture_id}"
        )
    _receive_lot(
        uow, f"swap:{proposal.proposal_id}", offer.fixture_id, result, offer.quantity, rules, now
    )
    log.info(
        "our proposal %s was accepted: %d bonds received", proposal.proposal_id, offer.quantity
    )
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


def _proposal_for_us(uow: UnitOfWork, proposal_id: str, rules: Rules) -> tuple[Proposal, Offer]:
    """Another group's proposal for one of our auctions, and that auction; else unknown."""
    proposal = uow.auction_book.get_proposal(proposal_id)
    if proposal is None or proposal.group_id == rules.group_id:
        raise UnknownProposal(proposal_id)
    offer = uow.auction_book.get_offer(proposal.auction_id)
    if offer is None or offer.group_id != rules.group_id:
        raise UnknownProposal(proposal_id)
    return proposal, offer


def _hold(
    uow: UnitOfWork, lot: str, quantity: int, source: str, now: datetime
) -> tuple[Lot, Fixture]:
    """Move ``quantity`` bonds of a lot to a lot of their own, held on auction."""
    if not 1 <= quantity <= MAX_LOT_PURCHASE:
        raise InvalidInput("quantity", f"must be from 1 to {MAX_LOT_PURCHASE}")
    found = uow.inventory.get(lot)
    if found is None or found.status is LotStatus.TRADED:
        raise UnknownLot(lot)
    fixture = uow.fixtures.get(found.fixture_id)
    if fixture is None or fixture.has_started(now):
        raise FixtureStarted(found.fixture_id)
    if found.status not in _TRADABLE:
        raise Conflict(f"lot {lot} is on auction already")
    if not uow.inventory.take(lot, quantity, _TRADABLE):
        raise LotTooSmall(lot, quantity)
    held = Lot(
        id=lot_id(source),
        fixture_id=found.fixture_id,
        result=found.result,
        quantity=quantity,
        status=LotStatus.ON_AUCTION,
        origin=found.origin,
        source=source,
        created_at=now,
    )
    uow.inventory.add(held)
    return held, fixture


def _receive_lot(
    uow: UnitOfWork,
    source: str,
    fixture_id: int,
    result: Outcome,
    quantity: int,
    rules: Rules,
    now: datetime,
) -> None:
    """Bonds received in a trade: a new held lot (once per source), settled if it is over."""
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


def _outcome(fixture: Fixture | None, result: str) -> Outcome | None:
    return fixture.outcome_of(result) if fixture is not None else None


def _publish(
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
