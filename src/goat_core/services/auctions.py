"""Auctions between groups on ``fixtures/auctions`` (CONTRACT §4b): our admin's side.

Our admin offers bonds of a lot (``offer``), proposes bonds for another group's offer
(``propose``), and answers proposals for our offers (``accept``, ``reject``); each
publishes its message through the outbox in the transaction that changes the books.
Bonds offered or proposed leave their lot for a lot of their own, held ``on_auction``
until the trade is decided. Bonds change hands here only before their fixtures start.
Other groups' messages are applied by ``auction_messages.apply_auction``.
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
    AuctionState,
    AuctionType,
    Lot,
    LotStatus,
    Offer,
    Proposal,
    ProposalState,
    lot_id,
)
from goat_core.model import Fixture, Rules, Viewer
from goat_core.ports import UnitOfWork
from goat_core.services.auction_messages import lock_fixtures, outcome, publish, receive_lot
from goat_core.services.context import Context
from goat_core.services.group import MAX_LOT_PURCHASE
from goat_core.services.queries import require_admin

__all__ = ["AuctionHouse"]

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
            publish(uow, offer, "", rules.group_id, AuctionType.OFFER)
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
            theirs = uow.fixtures.get(offer.fixture_id)
            if theirs is None or outcome(theirs, offer.result) is None:
                raise Conflict(f"auction {auction_id} offers bonds of a fixture unknown here")
            if theirs.has_started(now):
                raise FixtureStarted(offer.fixture_id)
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
            publish(uow, proposal, proposal_id, rules.group_id, AuctionType.PROPOSAL)
            uow.commit()
        log.info("proposal %s for auction %s: %d bonds", proposal_id, auction_id, quantity)
        return proposal

    def accept(self, viewer: Viewer, proposal_id: str) -> Proposal:
        """Accept a proposal for our auction: the swap, then every other one rejected.

        Our offered bonds are traded away, the proposed ones come into the inventory, and
        ``acceptance`` and each ``rejection`` are published. ``Conflict`` if the proposal
        is decided (even by a rejection racing this), the auction closed or the proposal
        names more bonds than a fixture has; ``FixtureStarted`` once either fixture has
        started (bonds change hands only before kick-off, so a lot settled by its result
        is never traded afterwards).
        """
        require_admin(viewer)
        context, rules = self._context, self._context.rules
        now = context.clock.now()
        with context.uow() as uow:
            proposal, offer = _proposal_for_us(uow, proposal_id, rules)
            if proposal.quantity > rules.bonds_per_fixture:
                raise Conflict(f"proposal {proposal_id} names more bonds than a fixture has")
            # a final result recorded meanwhile waits for the trade, or the trade sees it
            lock_fixtures(uow, offer.fixture_id, proposal.fixture_id)
            theirs = uow.fixtures.get(proposal.fixture_id)
            result = outcome(theirs, proposal.result)
            if result is None:
                raise Conflict(f"proposal {proposal_id} offers bonds of a fixture unknown here")
            if proposal.state is not ProposalState.PENDING:
                raise Conflict(f"proposal {proposal_id} is {proposal.state} already")
            for fixture_id, fixture in (
                (offer.fixture_id, uow.fixtures.get(offer.fixture_id)),
                (proposal.fixture_id, theirs),
            ):
                if fixture is None or fixture.has_started(now):
                    raise FixtureStarted(fixture_id)
            if not uow.auction_book.close_offer(offer.auction_id):
                raise Conflict(f"auction {offer.auction_id} is closed")
            if not uow.auction_book.decide(proposal_id, ProposalState.ACCEPTED):
                raise Conflict(f"proposal {proposal_id} was decided meanwhile")
            if offer.lot_id is not None:
                uow.inventory.move(offer.lot_id, (LotStatus.ON_AUCTION,), LotStatus.TRADED)
            receive_lot(
                uow,
                f"swap:{proposal_id}",
                proposal.fixture_id,
                result,
                proposal.quantity,
                rules,
                now,
            )
            publish(uow, offer, proposal_id, rules.group_id, AuctionType.ACCEPTANCE)
            for other in uow.auction_book.proposals(offer.auction_id):
                if other.state is ProposalState.PENDING and uow.auction_book.decide(
                    other.proposal_id, ProposalState.REJECTED
                ):
                    publish(uow, offer, other.proposal_id, rules.group_id, AuctionType.REJECTION)
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
            publish(uow, offer, proposal_id, rules.group_id, AuctionType.REJECTION)
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
    uow.fixtures.lock(found.fixture_id)  # its final result waits, or we see it started
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
