"""The group's own bonds (CONTRACT §4b): lots in the inventory, the group's account, and
the auctions between groups.

A ``Lot`` is a number of bonds the group holds on one result of one fixture. It comes
from an admin's accepted group purchase or from a trade, and is split when part of it
goes on auction: the part offered (or proposed) becomes a lot of its own, held
``on_auction`` until the trade is decided, so that no bond is ever in two places. A lot
keeps its row when bought out (quantity 0) or traded away (status ``traded``, quantity
what left): the inventory's history is what the conservation of bonds is checked on.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import attrs

from goat_core.model import FixtureSummary, Outcome

__all__ = [
    "DISCOUNTS",
    "AccountEntry",
    "AccountKind",
    "AuctionMessage",
    "AuctionState",
    "AuctionType",
    "Lot",
    "LotStatus",
    "LotView",
    "Offer",
    "Origin",
    "Proposal",
    "ProposalState",
    "discounted_price",
    "lot_id",
]

DISCOUNTS = (0, 10, 20, 30)
"""The discounts, in percent, an admin may put on a lot on sale."""


class LotStatus(enum.StrEnum):
    """Where the bonds of a lot are."""

    HELD = "held"
    """In the inventory, not for sale."""
    ON_SALE = "on_sale"
    """Our users may buy them (``GET /bonds``)."""
    ON_AUCTION = "on_auction"
    """Offered in our auction, or proposed for another group's: held until decided."""
    TRADED = "traded"
    """Gone to another group in a trade (never listed; kept for the books)."""


class Origin(enum.StrEnum):
    """How the group got a lot's bonds."""

    PURCHASE = "purchase"
    AUCTION = "auction"


@attrs.frozen
class Lot:
    """Bonds the group holds on one result of one fixture.

    ``source`` names the one event that made the lot (``purchase:<request_id>``,
    ``offer:<auction_id>``, ``proposal:<proposal_id>``, ``swap:<proposal_id>``): a
    repository keeps one lot per source, which is what makes each of those happen once.
    """

    id: str
    fixture_id: int
    result: Outcome
    quantity: int
    status: LotStatus
    origin: Origin
    source: str
    created_at: datetime
    discount: int = 0
    settled: bool = False

    def price(self, bond_price: int) -> int:
        """What one bond of this lot costs our users, discount applied."""
        return discounted_price(bond_price, self.discount)

    @property
    def is_the_groups(self) -> bool:
        """Whether the group is the one to settle this lot now: held, on sale, or offered
        in our auction (which no one accepts once its fixture started). A lot proposed
        for another group's auction waits for that group's answer, and a traded lot is
        the other group's."""
        if self.status is LotStatus.TRADED:
            return False
        return not (self.status is LotStatus.ON_AUCTION and self.source.startswith("proposal:"))


@attrs.frozen
class LotView:
    """A lot as the admin or a buyer sees it: with a summary of its fixture (None only
    for a fixture this installation does not store)."""

    lot: Lot
    fixture: FixtureSummary | None

    @property
    def wire_result(self) -> str:
        """The backed result as the wire writes it (team name or ``---``)."""
        if self.fixture is None:
            return "---" if self.lot.result is Outcome.DRAW else self.lot.result.value
        return self.fixture.wire_result(self.lot.result)


def lot_id(source: str) -> str:
    """The id of the lot that ``source`` makes: the same on every installation and retry."""
    return hashlib.sha256(source.encode()).hexdigest()[:20]


def discounted_price(bond_price: int, discount: int) -> int:
    """round_half_up(bond price × (100 − discount) / 100), in whole CLP."""
    exact = Decimal(bond_price) * Decimal(100 - discount) / Decimal(100)
    return int(exact.quantize(Decimal(1), ROUND_HALF_UP))


class AccountKind(enum.StrEnum):
    SALE = "sale"
    """A user paid for bonds of a lot."""
    PAYOUT = "payout"
    """A lot the group held won."""


@attrs.frozen
class AccountEntry:
    """One movement of the group's account; ``(kind, reference)`` happens once."""

    amount: int
    kind: AccountKind
    reference: str
    at: datetime


class AuctionState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ProposalState(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@attrs.frozen
class Offer:
    """An auction: bonds a group (ours or another) puts up on ``fixtures/auctions``.

    ``result`` is as the wire says it (a team name or ``---``). ``lot_id`` is the lot
    held on auction when the offer is ours.
    """

    auction_id: str
    group_id: str
    fixture_id: int
    league_name: str
    round: str
    result: str
    quantity: int
    state: AuctionState
    created_at: datetime
    lot_id: str | None = None


@attrs.frozen
class Proposal:
    """Bonds a group proposes in exchange for an offer's; ``lot_id`` when it is ours."""

    proposal_id: str
    auction_id: str
    group_id: str
    fixture_id: int
    league_name: str
    round: str
    result: str
    quantity: int
    state: ProposalState
    created_at: datetime
    lot_id: str | None = None


class AuctionType(enum.StrEnum):
    OFFER = "offer"
    PROPOSAL = "proposal"
    ACCEPTANCE = "acceptance"
    REJECTION = "rejection"


@attrs.frozen
class AuctionMessage:
    """A ``fixtures/auctions`` message (CONTRACT §3); ``group_id`` is the sender.

    An acceptance or rejection names the bonds of the offer it answers.
    """

    auction_id: str
    proposal_id: str
    fixture_id: int
    league_name: str
    round: str
    result: str
    quantity: int
    group_id: str
    type: AuctionType
