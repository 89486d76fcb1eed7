"""``ports.AuctionBook`` on the ``auction_offers`` and ``auction_proposals`` tables.

Offers and proposals are inserted once (``ON CONFLICT DO NOTHING`` on their ids); an
offer closes and a proposal is decided by a conditional update from the open/pending
state, whose row count tells the one caller that did it.
"""

from __future__ import annotations

from typing import Any

import attrs
import sqlalchemy as sa

from goat_adapters.sql import tables as t
from goat_adapters.sql.statements import Statement, Transaction, insert_new
from goat_core.inventory import AuctionState, Offer, Proposal, ProposalState

__all__ = ["SqlAuctionBook"]

_O = t.auction_offers.c
_P = t.auction_proposals.c


_ADD_OFFER = insert_new(t.auction_offers)
_ADD_PROPOSAL = insert_new(t.auction_proposals)
_CLOSE = Statement(
    sa.update(t.auction_offers)
    .where(_O.auction_id == sa.bindparam("id"), _O.state == AuctionState.OPEN.value)
    .values(state=AuctionState.CLOSED.value)
)
_REPLACE_CLOSED = Statement(
    sa.update(t.auction_offers)
    .where(
        _O.auction_id == sa.bindparam("id"),
        _O.state == AuctionState.CLOSED.value,
        _O.group_id != sa.bindparam("sender"),
        _O.lot_id.is_(None),
    )
    .values(
        {
            column.name: sa.bindparam(f"new_{column.name}")
            for column in t.auction_offers.columns
            if column.name != "auction_id"
        }
    )
)
_DECIDE = Statement(
    sa.update(t.auction_proposals)
    .where(_P.proposal_id == sa.bindparam("id"), _P.state == ProposalState.PENDING.value)
    .values(state=sa.bindparam("to", type_=sa.String))
)


def _offer(row: Any) -> Offer:
    """An ``auction_offers`` row (its columns are the offer's fields)."""
    return Offer(**{**row._mapping, "state": AuctionState(row.state)})


def _proposal(row: Any) -> Proposal:
    """An ``auction_proposals`` row (its columns are the proposal's fields)."""
    return Proposal(**{**row._mapping, "state": ProposalState(row.state)})


def _values(bonds: Offer | Proposal) -> dict[str, Any]:
    return {**attrs.asdict(bonds, recurse=False), "state": bonds.state.value}


class SqlAuctionBook:
    """``ports.AuctionBook``: offers and proposals, ours and other groups'."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def add_offer(self, offer: Offer) -> bool:
        """Insert the offer; False if its auction id is known."""
        return self._tx.run(_ADD_OFFER, _values(offer)).rowcount > 0

    def get_offer(self, auction_id: str) -> Offer | None:
        """The offer, or None."""
        row = self._tx.execute(
            sa.select(t.auction_offers).where(_O.auction_id == auction_id)
        ).first()
        return _offer(row) if row is not None else None

    def lock_offer(self, auction_id: str) -> Offer | None:
        """The offer, its row locked until the transaction ends (``FOR UPDATE``)."""
        query = sa.select(t.auction_offers).where(_O.auction_id == auction_id).with_for_update()
        row = self._tx.execute(query).first()
        return _offer(row) if row is not None else None

    def offers(self, state: AuctionState) -> list[Offer]:
        """Offers in one state, oldest first."""
        query = (
            sa.select(t.auction_offers)
            .where(_O.state == state.value)
            .order_by(_O.created_at, _O.auction_id)
        )
        return [_offer(row) for row in self._tx.execute(query)]

    def close_offer(self, auction_id: str) -> bool:
        """Close an open offer; True for the one caller that did."""
        return self._tx.run(_CLOSE, {"id": auction_id}).rowcount > 0

    def replace_closed_offer(self, offer: Offer) -> bool:
        """Replace a closed offer of another group, backed by no lot of ours, by ``offer``."""
        values = _values(offer)
        parameters = {f"new_{name}": v for name, v in values.items() if name != "auction_id"}
        parameters.update(id=offer.auction_id, sender=offer.group_id)
        return self._tx.run(_REPLACE_CLOSED, parameters).rowcount > 0

    def add_proposal(self, proposal: Proposal) -> bool:
        """Insert the proposal; False if its proposal id is known."""
        return self._tx.run(_ADD_PROPOSAL, _values(proposal)).rowcount > 0

    def get_proposal(self, proposal_id: str) -> Proposal | None:
        """The proposal, or None."""
        row = self._tx.execute(
            sa.select(t.auction_proposals).where(_P.proposal_id == proposal_id)
        ).first()
        return _proposal(row) if row is not None else None

    def proposals(self, auction_id: str | None = None) -> list[Proposal]:
        """Every proposal (of one auction, if named), oldest first."""
        query = sa.select(t.auction_proposals).order_by(_P.created_at, _P.proposal_id)
        if auction_id is not None:
            query = query.where(_P.auction_id == auction_id)
        return [_proposal(row) for row in self._tx.execute(query)]

    def decide(self, proposal_id: str, to: ProposalState) -> bool:
        """Move a pending proposal to ``to``; True for the one caller that did."""
        return self._tx.run(_DECIDE, {"id": proposal_id, "to": to.value}).rowcount > 0
