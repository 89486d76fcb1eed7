"""Storage ports of the group's own bonds (CONTRACT §4b): its lots, its account, and the
auctions and proposals between groups. Reached through the unit of work, re-exported by
``goat_core.ports``; each method's docstring is its contract, as there."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Protocol

from goat_core.inventory import (
    AccountEntry,
    AuctionState,
    Lot,
    LotStatus,
    Offer,
    Proposal,
    ProposalState,
)
from goat_core.model import Purchase

__all__ = ["AuctionBook", "GroupAccount", "Inventory"]


class Inventory(Protocol):
    """The group's lots of bonds (CONTRACT §4b)."""

    def add(self, lot: Lot) -> bool:
        """Insert the lot; False (and no change) if a lot with its ``source`` exists."""

    def get(self, lot_id: str) -> Lot | None:
        """The lot, or None."""

    def by_source(self, source: str) -> Lot | None:
        """The lot that ``source`` made, or None."""

    def lots(self, statuses: Collection[LotStatus]) -> list[Lot]:
        """Lots in these statuses that hold bonds (quantity > 0), oldest first."""

    def for_fixture(self, fixture_id: int) -> list[Lot]:
        """Every lot of a fixture, whatever its status or quantity."""

    def take(self, lot_id: str, quantity: int, statuses: Collection[LotStatus]) -> bool:
        """Take ``quantity`` bonds out of the lot if it holds that many and is in one of
        ``statuses``; False (no change) otherwise.

        A conditional, atomic decrement: under any concurrency a lot never goes below 0.
        """

    def move(
        self,
        lot_id: str,
        allowed_from: Collection[LotStatus],
        to: LotStatus,
        discount: int | None = None,
    ) -> bool:
        """Move the lot to ``to`` (and ``discount``, when given) only from ``allowed_from``;
        of any number of concurrent callers exactly one gets True."""

    def mark_settled(self, lot_id: str) -> bool:
        """Record that the lot's fixture paid it (or not) once; False if already recorded
        or if the lot is ``traded`` (another group's, whatever was read before)."""

    def sell(self, lot_id: str, purchase: Purchase, cost: int, now: datetime) -> None:
        """One user's purchase of ``purchase.quantity`` bonds of a lot on sale.

        Take the bonds from the lot (``LotTooSmall`` unless it is on sale with that many
        left), debit ``cost`` from the buyer's wallet with a ``purchase`` ledger entry
        (``NotEnoughMoney`` unless it holds that much), insert the purchase, and credit
        the group's account with a ``sale`` entry. Both conditions hold under any
        concurrency; after an error the unit of work must be left without committing.
        """


class GroupAccount(Protocol):
    """The group's account: a ledger whose balance is the sum of its entries."""

    def add(self, entry: AccountEntry) -> bool:
        """Append the entry; False (no change) if one of its kind and reference exists."""

    def entries(self) -> list[AccountEntry]:
        """Every entry, oldest first."""


class AuctionBook(Protocol):
    """Auctions and proposals, ours and other groups' (CONTRACT §4b)."""

    def add_offer(self, offer: Offer) -> bool:
        """Insert the offer; False (no change) if its auction id is known."""

    def get_offer(self, auction_id: str) -> Offer | None:
        """The offer, or None."""

    def lock_offer(self, auction_id: str) -> Offer | None:
        """The offer, or None; its row stays locked until this unit of work ends, so that
        a proposal recorded for it and its closing serialize."""

    def offers(self, state: AuctionState) -> list[Offer]:
        """Offers in one state, oldest first."""

    def close_offer(self, auction_id: str) -> bool:
        """Close an open offer; exactly one concurrent caller gets True."""

    def replace_closed_offer(self, offer: Offer) -> bool:
        """Replace the closed offer of ``offer.auction_id`` by ``offer`` if it is another
        group's than ``offer.group_id`` and backed by no lot of ours (``lot_id`` None):
        the record an acceptance that overtook its offer left. False (no change) else."""

    def add_proposal(self, proposal: Proposal) -> bool:
        """Insert the proposal; False (no change) if its proposal id is known."""

    def get_proposal(self, proposal_id: str) -> Proposal | None:
        """The proposal, or None."""

    def proposals(self, auction_id: str | None = None) -> list[Proposal]:
        """Every proposal (of one auction, if named), oldest first."""

    def decide(self, proposal_id: str, to: ProposalState) -> bool:
        """Move a pending proposal to ``to``; exactly one concurrent caller gets True."""
