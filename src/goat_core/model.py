"""Domain types of the bond exchange: fixtures, purchases, wallets and what the broker says."""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import attrs

__all__ = [
    "ENDED_STATUSES",
    "FINISHED_STATUSES",
    "HOLDING_STATUSES",
    "NOT_STARTED_STATUSES",
    "RECEIPT_STATUSES",
    "DeadLetter",
    "Fixture",
    "FixtureStage",
    "FixtureSummary",
    "League",
    "LedgerEntry",
    "LedgerKind",
    "Location",
    "MatchState",
    "Odds",
    "OutboxMessage",
    "Outcome",
    "PaymentConfirmation",
    "PaymentStart",
    "PaymentStatus",
    "Purchase",
    "PurchaseStatus",
    "PurchaseView",
    "Recommendation",
    "Recommendations",
    "RequestMessage",
    "Rules",
    "Team",
    "User",
    "ValidationMessage",
    "Viewer",
    "payout",
    "round_number",
]


FINISHED_STATUSES = frozenset({"FT", "AET", "PEN"})
"""Short statuses after which a fixture has a final result."""

NOT_STARTED_STATUSES = frozenset({"NS", "TBD"})
"""Short statuses of a fixture that has not kicked off."""

ENDED_STATUSES = FINISHED_STATUSES | {"CANC", "ABD", "AWD", "WO"}
"""Short statuses of a fixture that will not be played any further (finished or called off)."""


class FixtureStage(enum.StrEnum):
    """Where a fixture stands for a buyer: on sale, in play, or over."""

    UPCOMING = "upcoming"
    """Not started: its bonds can be bought."""
    LIVE = "live"
    """Started (by status or by the clock) and not over."""
    FINISHED = "finished"
    """Over: finished, or cancelled, abandoned or awarded."""


class Outcome(enum.StrEnum):
    """The result a bond bets on."""

    HOME = "home"
    DRAW = "draw"
    AWAY = "away"

    @classmethod
    def parse(cls, text: str) -> Outcome | None:
        """``home``, ``draw``, ``away`` in any case, or ``---`` (a draw on the wire); else None.

        Team names need the fixture: see ``Fixture.outcome_of``.
        """
        text = text.strip()
        if text == "---":
            return cls.DRAW
        try:
            return cls(text.casefold())
        except ValueError:
            return None


class PurchaseStatus(enum.StrEnum):
    """Where a purchase is in its life (CONTRACT §4)."""

    PENDING_PAYMENT = "pending_payment"
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WON = "won"
    LOST = "lost"


HOLDING_STATUSES = frozenset(
    {
        PurchaseStatus.PENDING_PAYMENT,
        PurchaseStatus.PENDING,
        PurchaseStatus.ACCEPTED,
        PurchaseStatus.WON,
        PurchaseStatus.LOST,
    }
)
"""Statuses whose bonds are held on the fixture: all but ``rejected``.

Settling an accepted purchase (won/lost) does not give its bonds back: they were sold.
"""


RECEIPT_STATUSES = frozenset({PurchaseStatus.ACCEPTED, PurchaseStatus.WON, PurchaseStatus.LOST})
"""Statuses of a purchase that has a receipt: accepted, and kept once settled."""


class LedgerKind(enum.StrEnum):
    TOP_UP = "top_up"
    PURCHASE = "purchase"
    REFUND = "refund"
    PAYOUT = "payout"


class PaymentStatus(enum.StrEnum):
    """What the user did on the payment page."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


@attrs.frozen
class Rules:
    """The numbers of CONTRACT §2, all settings."""

    group_id: str = "15"
    bond_price: int = 1000
    bonds_per_fixture: int = 40


@attrs.frozen
class Team:
    id: int
    name: str
    logo: str | None = None


@functools.lru_cache(maxsize=1024)
def round_number(league_round: str) -> int:
    """The number at the end of a league round ("Regular Season - 12" -> 12), 0 if none."""
    match = re.search(r"(\d+)\s*$", league_round)
    return int(match.group(1)) if match else 0


@attrs.frozen
class League:
    id: int | None
    name: str
    round: str
    country: str | None = None
    logo: str | None = None
    flag: str | None = None
    season: int | None = None

    @property
    def round_number(self) -> int:
        """The number at the end of ``round`` ("Regular Season - 12" -> 12), 0 if none."""
        return round_number(self.round)


@attrs.frozen
class Odds:
    """Match Winner odds, exact decimals as sent on the wire."""

    home: Decimal
    draw: Decimal
    away: Decimal

    def for_outcome(self, outcome: Outcome) -> Decimal:
        return {Outcome.HOME: self.home, Outcome.DRAW: self.draw, Outcome.AWAY: self.away}[outcome]


@attrs.frozen
class Fixture:
    """A football match as the broker describes it.

    ``available_bonds`` and ``updated_at`` are ours: a parsed message leaves them ``None``
    and the repository fills them in.
    """

    id: int
    kickoff: datetime
    league: League
    home: Team
    away: Team
    status: str = "NS"
    status_long: str | None = None
    elapsed: int | None = None
    referee: str | None = None
    timezone: str = "UTC"
    goals_home: int | None = None
    goals_away: int | None = None
    odds: Odds | None = None
    available_bonds: int | None = None
    updated_at: datetime | None = None

    def has_started(self, now: datetime) -> bool:
        """True once the status leaves "not started" or the kick-off time has passed."""
        return self.status not in NOT_STARTED_STATUSES or self.kickoff <= now

    def stage(self, now: datetime) -> FixtureStage:
        """Upcoming until it starts, finished once its status says it is over, else live."""
        if not self.has_started(now):
            return FixtureStage.UPCOMING
        if self.status in ENDED_STATUSES:
            return FixtureStage.FINISHED
        return FixtureStage.LIVE

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES and self.winner is not None

    @property
    def winner(self) -> Outcome | None:
        """The outcome decided by goals, or None while either score is unknown."""
        if self.goals_home is None or self.goals_away is None:
            return None
        if self.goals_home > self.goals_away:
            return Outcome.HOME
        if self.goals_home < self.goals_away:
            return Outcome.AWAY
        return Outcome.DRAW

    def team_for(self, outcome: Outcome) -> Team | None:
        """The team a bet on ``outcome`` backs; None for a draw."""
        return {Outcome.HOME: self.home, Outcome.AWAY: self.away}.get(outcome)

    def outcome_of(self, result: str) -> Outcome | None:
        """Read the wire ``result``: a team name, ``---``, or home/away/draw; None if neither."""
        lowered = result.strip().casefold()
        if lowered == self.home.name.casefold():
            return Outcome.HOME
        if lowered == self.away.name.casefold():
            return Outcome.AWAY
        return Outcome.parse(result)

    def wire_result(self, outcome: Outcome) -> str:
        """How ``outcome`` is written on the wire: the team name, or ``---`` for a draw."""
        team = self.team_for(outcome)
        return team.name if team else "---"


@attrs.frozen
class MatchState:
    """One entry of fixtures/history: the state of a fixture at some moment."""

    fixture_id: int
    status: str
    status_long: str | None = None
    elapsed: int | None = None
    goals_home: int | None = None
    goals_away: int | None = None

    @property
    def is_final(self) -> bool:
        """Finished status and both goals known: the only results that settle bonds."""
        return (
            self.status in FINISHED_STATUSES
            and self.goals_home is not None
            and self.goals_away is not None
        )


@attrs.define
class Purchase:
    """A purchase of bonds, by one of our users or announced by another group.

    ``reserved`` is how many bonds it actually holds on our copy of the fixture: for
    another group's purchase it may be less than ``quantity`` when fewer were left.
    ``user_id`` is set only for our own purchases.
    """

    request_id: str
    group_id: str
    fixture_id: int
    league_name: str
    round: str
    date: str
    result: Outcome
    quantity: int
    reserved: int
    wallet: bool
    created_at: datetime
    status: PurchaseStatus
    deposit_token: str = ""
    seller: int = 0
    user_id: str | None = None
    payout: int | None = None
    buy_order: str | None = None
    payment_url: str | None = None
    payment_status: PaymentStatus | None = None
    location: Location | None = None
    """Where the buyer bought from (our users' purchases, when it could be told)."""
    updated_at: datetime | None = None

    @property
    def is_ours(self) -> bool:
        return self.user_id is not None

    def cost(self, rules: Rules) -> int:
        return self.quantity * rules.bond_price


@attrs.frozen
class FixtureSummary:
    """What a purchase shows of its fixture: the teams, the league, the round, the kick-off."""

    id: int
    home: str
    away: str
    league: str
    round: str
    kickoff: datetime

    @classmethod
    def of(cls, fixture: Fixture) -> FixtureSummary:
        return cls(
            fixture.id,
            fixture.home.name,
            fixture.away.name,
            fixture.league.name,
            fixture.league.round,
            fixture.kickoff,
        )

    def wire_result(self, outcome: Outcome) -> str:
        """How ``outcome`` is written on the wire: the team name, or ``---`` for a draw."""
        return {Outcome.HOME: self.home, Outcome.AWAY: self.away}.get(outcome, "---")


@attrs.frozen
class PurchaseView:
    """A purchase as its owner sees it: with a summary of its fixture.

    ``fixture`` is None only for a purchase whose fixture is not stored (never for ours).
    """

    purchase: Purchase
    fixture: FixtureSummary | None

    @property
    def wire_result(self) -> str:
        """The backed result as the wire writes it (team name or ``---``)."""
        if self.fixture is None:
            return "---" if self.purchase.result is Outcome.DRAW else self.purchase.result.value
        return self.fixture.wire_result(self.purchase.result)


@attrs.frozen
class Viewer:
    """Who asks, as a verified token says: what they may see and do depends on it."""

    user_id: str
    admin: bool = False


@attrs.frozen
class User:
    id: str
    email: str | None = None
    name: str | None = None
    wallet: int = 0


@attrs.frozen
class LedgerEntry:
    """One movement of a wallet; the balance is the sum of its entries."""

    user_id: str
    amount: int
    kind: LedgerKind
    reference: str | None
    at: datetime


@attrs.frozen
class RequestMessage:
    """A purchase announced on fixtures/requests, as sent (``result`` unresolved)."""

    request_id: str
    group_id: str
    fixture_id: int
    result: str
    quantity: int
    wallet: bool
    league_name: str = ""
    round: str = ""
    date: str = ""
    deposit_token: str = ""
    datetime: str = ""
    seller: int = 0


@attrs.frozen
class ValidationMessage:
    """A verdict on fixtures/validation."""

    request_id: str
    group_id: str
    valid: bool
    seller: int = 0


@attrs.frozen
class OutboxMessage:
    id: int
    topic: str
    payload: str


@attrs.frozen
class DeadLetter:
    """A broker message that could not be applied, kept for inspection."""

    id: int
    topic: str
    payload: str
    reason: str
    received_at: datetime


@attrs.frozen
class Recommendation:
    fixture_id: int
    pond: Decimal


@attrs.frozen
class Recommendations:
    user_id: str
    updated_at: datetime | None
    items: tuple[Recommendation, ...] = ()


@attrs.frozen
class Location:
    """Where a buyer's IP is, per a geolocation service (course RF04): outside texts cut to
    ``TEXT_LIMIT`` characters, coordinates rounded to ``DECIMALS`` places (about 11 m)."""

    TEXT_LIMIT, DECIMALS = 40, 4

    ip: str
    city: str | None = None
    region: str | None = None
    country: str | None = None
    lat: float | None = None
    lon: float | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("city", "region", "country", "lat", "lon"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, value[: self.TEXT_LIMIT])
            elif value is not None:
                object.__setattr__(self, name, round(value, self.DECIMALS))


@attrs.frozen
class PaymentStart:
    """Where to send the user to pay, and the provider's token for the transaction."""

    url: str
    token: str


@attrs.frozen
class PaymentConfirmation:
    """What the provider says of a transaction when we commit it or ask its status.

    ``authorized``: the payer's bank authorized ``amount`` CLP, which the provider holds
    for us; otherwise it was refused and no money moved.
    """

    token: str
    authorized: bool
    amount: int
    buy_order: str
    details: Mapping[str, object] = attrs.field(factory=dict)


def payout(quantity: int, price: int, odd: Decimal) -> int:
    """round_half_up(quantity × price × odd), in whole CLP."""
    return int((Decimal(quantity) * Decimal(price) * odd).quantize(Decimal(1), ROUND_HALF_UP))
