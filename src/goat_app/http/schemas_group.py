"""The JSON documents of the group's own bonds and the auctions (CONTRACT §4b)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from goat_app.http.schemas import (
    Id,
    Positive,
    PurchaseFixtureOut,
    PurchaseOut,
    purchase_fixture_out,
)
from goat_core.inventory import AccountEntry, LotView, Offer, Proposal
from goat_core.model import Outcome

__all__ = [
    "AccountEntryOut",
    "AccountOut",
    "AuctionCreatedOut",
    "BondIn",
    "BondOnSaleOut",
    "BondsOnSaleOut",
    "BuyBondsIn",
    "LotOut",
    "LotPurchaseOut",
    "LotUpdateIn",
    "LotsOut",
    "OfferOut",
    "OffersOut",
    "ProposalCreatedOut",
    "ProposalOut",
    "ProposalsOut",
    "account_out",
    "bond_on_sale_out",
    "lot_out",
    "offer_out",
    "proposal_out",
]


# -- bodies -------------------------------------------------------------------------------


class LotUpdateIn(msgspec.Struct):
    """``PATCH /admin/bonds/{id}``: on sale or not, and the discount (0, 10, 20 or 30 %)."""

    on_sale: bool | None = None
    discount: int | None = None


class BuyBondsIn(msgspec.Struct):
    """``POST /bonds/{id}/buy``: how many bonds of the lot."""

    quantity: Positive


class BondIn(msgspec.Struct):
    """``POST /auctions`` and ``POST /auctions/{id}/proposals``: bonds of one of our lots."""

    bond_id: Id
    quantity: Positive


# -- answers ------------------------------------------------------------------------------


class LotOut(msgspec.Struct):
    """A lot of the group's inventory."""

    id: str
    fixture_id: int
    fixture: PurchaseFixtureOut | None
    result: Outcome
    result_name: str
    quantity: int
    status: str
    discount: int
    origin: str


class LotsOut(msgspec.Struct):
    bonds: list[LotOut]


class BondOnSaleOut(msgspec.Struct):
    """A lot our users may buy, at ``price`` CLP a bond (discount applied)."""

    id: str
    fixture_id: int
    fixture: PurchaseFixtureOut | None
    result: Outcome
    result_name: str
    quantity: int
    price: int
    discount: int


class BondsOnSaleOut(msgspec.Struct):
    bonds: list[BondOnSaleOut]


class LotPurchaseOut(msgspec.Struct):
    request: PurchaseOut


class AccountEntryOut(msgspec.Struct):
    amount: int
    kind: str
    reference: str
    at: datetime


class AccountOut(msgspec.Struct):
    balance: int
    ledger: list[AccountEntryOut]


class OfferOut(msgspec.Struct):
    """An auction; ``bond_id`` is the lot held on auction when it is ours."""

    auction_id: str
    group_id: str
    fixture_id: int
    league_name: str
    round: str
    result: str
    quantity: int
    state: str
    created_at: datetime
    bond_id: str | None


class AuctionCreatedOut(msgspec.Struct):
    auction: OfferOut


class OffersOut(msgspec.Struct):
    offers: list[OfferOut]


class ProposalOut(msgspec.Struct):
    """A proposal; ``bond_id`` is the lot held for it when it is ours."""

    proposal_id: str
    auction_id: str
    group_id: str
    fixture_id: int
    league_name: str
    round: str
    result: str
    quantity: int
    state: str
    created_at: datetime
    bond_id: str | None


class ProposalCreatedOut(msgspec.Struct):
    proposal: ProposalOut


class ProposalsOut(msgspec.Struct):
    proposals: list[ProposalOut]


def lot_out(view: LotView) -> LotOut:
    lot = view.lot
    return LotOut(
        id=lot.id,
        fixture_id=lot.fixture_id,
        fixture=purchase_fixture_out(view.fixture) if view.fixture else None,
        result=lot.result,
        result_name=view.wire_result,
        quantity=lot.quantity,
        status=lot.status.value,
        discount=lot.discount,
        origin=lot.origin.value,
    )


def bond_on_sale_out(view: LotView, bond_price: int) -> BondOnSaleOut:
    lot = view.lot
    return BondOnSaleOut(
        id=lot.id,
        fixture_id=lot.fixture_id,
        fixture=purchase_fixture_out(view.fixture) if view.fixture else None,
        result=lot.result,
        result_name=view.wire_result,
        quantity=lot.quantity,
        price=lot.price(bond_price),
        discount=lot.discount,
    )


def account_out(balance: int, entries: list[AccountEntry]) -> AccountOut:
    ledger = [AccountEntryOut(e.amount, e.kind.value, e.reference, e.at) for e in entries]
    return AccountOut(balance, ledger)


def offer_out(o: Offer) -> OfferOut:
    return OfferOut(
        o.auction_id,
        o.group_id,
        o.fixture_id,
        o.league_name,
        o.round,
        o.result,
        o.quantity,
        o.state.value,
        o.created_at,
        o.lot_id,
    )


def proposal_out(p: Proposal) -> ProposalOut:
    return ProposalOut(
        p.proposal_id,
        p.auction_id,
        p.group_id,
        p.fixture_id,
        p.league_name,
        p.round,
        p.result,
        p.quantity,
        p.state.value,
        p.created_at,
        p.lot_id,
    )
