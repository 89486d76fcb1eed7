"""The in-memory group books: the inventory of lots, the group's account, the auctions.

Like every repository of the in-memory store, each works on the state of one unit of
work (``store._State``); units of work run one at a time, so each conditional write is
trivially atomic.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from goat_core.errors import Conflict, LotTooSmall, NotEnoughMoney
from goat_core.inventory import (
    AccountEntry,
    AccountKind,
    AuctionState,
    Lot,
    LotStatus,
    Offer,
    Proposal,
    ProposalState,
)
from goat_core.model import LedgerEntry, LedgerKind, Purchase

if TYPE_CHECKING:
    from goat_adapters.memory.store import _State

__all__ = ["MemoryAuctionBook", "MemoryGroupAccount", "MemoryInventory"]


@attrs.define
class MemoryInventory:
    """``ports.Inventory`` over a dict of lots by id."""

    s: _State

    def add(self, lot: Lot) -> bool:
        if lot.id in self.s.lots or any(x.source == lot.source for x in self.s.lots.values()):
            return False
        self.s.lots[lot.id] = lot
        return True

    def get(self, lot_id: str) -> Lot | None:
        return self.s.lots.get(lot_id)

    def by_source(self, source: str) -> Lot | None:
        return next((x for x in self.s.lots.values() if x.source == source), None)

    def lots(self, statuses: Collection[LotStatus]) -> list[Lot]:
        found = [x for x in self.s.lots.values() if x.status in statuses and x.quantity > 0]
        return sorted(found, key=lambda x: (x.created_at, x.id))

    def for_fixture(self, fixture_id: int) -> list[Lot]:
        found = [x for x in self.s.lots.values() if x.fixture_id == fixture_id]
        return sorted(found, key=lambda x: (x.created_at, x.id))

    def take(self, lot_id: str, quantity: int, statuses: Collection[LotStatus]) -> bool:
        lot = self.s.lots.get(lot_id)
        if lot is None or lot.status not in statuses or quantity < 1 or lot.quantity < quantity:
            return False
        self.s.lots[lot_id] = attrs.evolve(lot, quantity=lot.quantity - quantity)
        return True

    def move(
        self,
        lot_id: str,
        allowed_from: Collection[LotStatus],
        to: LotStatus,
        discount: int | None = None,
    ) -> bool:
        lot = self.s.lots.get(lot_id)
        if lot is None or lot.status not in allowed_from:
            return False
        kept = lot.discount if discount is None else discount
        self.s.lots[lot_id] = attrs.evolve(lot, status=to, discount=kept)
        return True

    def mark_settled(self, lot_id: str) -> bool:
        lot = self.s.lots.get(lot_id)
        if lot is None or lot.settled or lot.status is LotStatus.TRADED:
            return False
        self.s.lots[lot_id] = attrs.evolve(lot, settled=True)
        return True

    def sell(self, lot_id: str, purchase: Purchase, cost: int, now: datetime) -> None:
        user_id = purchase.user_id or ""
        user = self.s.users.get(user_id)
        if purchase.request_id in self.s.purchases:
            raise Conflict(f"purchase {purchase.request_id} exists already")
        if not self.take(lot_id, purchase.quantity, (LotStatus.ON_SALE,)):
            raise LotTooSmall(lot_id, purchase.quantity)
        if user is None or user.wallet < cost:
            raise NotEnoughMoney(user_id, cost)
        self.s.users[user_id] = attrs.evolve(user, wallet=user.wallet - cost)
        self.s.ledger.append(
            LedgerEntry(user_id, -cost, LedgerKind.PURCHASE, purchase.request_id, now)
        )
        self.s.purchases[purchase.request_id] = attrs.evolve(purchase)
        if cost:
            entry = AccountEntry(cost, AccountKind.SALE, purchase.request_id, now)
            MemoryGroupAccount(self.s).add(entry)


@attrs.define
class MemoryGroupAccount:
    """``ports.GroupAccount`` over a list of entries."""

    s: _State

    def add(self, entry: AccountEntry) -> bool:
        if any(e.kind == entry.kind and e.reference == entry.reference for e in self.s.account):
            return False
        self.s.account.append(entry)
        return True

    def entries(self) -> list[AccountEntry]:
        return list(self.s.account)


@attrs.define
class MemoryAuctionBook:
    """``ports.AuctionBook`` over dicts of offers and proposals by id."""

    s: _State

    def add_offer(self, offer: Offer) -> bool:
        if offer.auction_id in self.s.offers:
            return False
        self.s.offers[offer.auction_id] = offer
        return True

    def get_offer(self, auction_id: str) -> Offer | None:
        return self.s.offers.get(auction_id)

    def lock_offer(self, auction_id: str) -> Offer | None:
        return self.s.offers.get(auction_id)  # units of work already run one at a time

    def offers(self, state: AuctionState) -> list[Offer]:
        found = [o for o in self.s.offers.values() if o.state is state]
        return sorted(found, key=lambda o: (o.created_at, o.auction_id))

    def close_offer(self, auction_id: str) -> bool:
        offer = self.s.offers.get(auction_id)
        if offer is None or offer.state is not AuctionState.OPEN:
            return False
        self.s.offers[auction_id] = attrs.evolve(offer, state=AuctionState.CLOSED)
        return True

    def replace_closed_offer(self, offer: Offer) -> bool:
        known = self.s.offers.get(offer.auction_id)
        if (
            known is None
            or known.state is not AuctionState.CLOSED
            or known.group_id == offer.group_id
            or known.lot_id is not None
        ):
            return False
        self.s.offers[offer.auction_id] = offer
        return True

    def add_proposal(self, proposal: Proposal) -> bool:
        if proposal.proposal_id in self.s.proposals:
            return False
        self.s.proposals[proposal.proposal_id] = proposal
        return True

    def get_proposal(self, proposal_id: str) -> Proposal | None:
        return self.s.proposals.get(proposal_id)

    def proposals(self, auction_id: str | None = None) -> list[Proposal]:
        found = [
            p for p in self.s.proposals.values() if auction_id is None or p.auction_id == auction_id
        ]
        return sorted(found, key=lambda p: (p.created_at, p.proposal_id))

    def decide(self, proposal_id: str, to: ProposalState) -> bool:
        proposal = self.s.proposals.get(proposal_id)
        if proposal is None or proposal.state is not ProposalState.PENDING:
            return False
        self.s.proposals[proposal_id] = attrs.evolve(proposal, state=to)
        return True
