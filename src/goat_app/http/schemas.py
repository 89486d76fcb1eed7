"""The JSON documents of the HTTP API (CONTRACT §4), and how domain types become them.

Bodies are ``msgspec`` structs: unknown fields are ignored (the original frontend sends
more than we read), missing or mistyped ones are a 400 that names the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from goat_core.model import (
    DeadLetter,
    Fixture,
    FixtureSummary,
    Location,
    Outcome,
    PaymentStatus,
    PurchaseStatus,
    PurchaseView,
    User,
)

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_TOP_UP",
    "CommitOut",
    "DeadLetterOut",
    "DeadLetterPageOut",
    "FixtureInfoOut",
    "FixtureOut",
    "FixturePageOut",
    "GoalsOut",
    "HealthOut",
    "HeartbeatOut",
    "JobOut",
    "LeagueOut",
    "OddValueOut",
    "OddsOut",
    "PaymentCommitIn",
    "PaymentCreateIn",
    "PaymentOut",
    "ProblemOut",
    "PurchaseCreatedOut",
    "PurchaseFixtureOut",
    "PurchaseIn",
    "PurchaseOut",
    "PurchasePageOut",
    "ReadyOut",
    "ReceiptOut",
    "ReceiptPendingOut",
    "RecommendationOut",
    "RecommendationsOut",
    "StatusOut",
    "TeamOut",
    "TeamsOut",
    "TopUpIn",
    "UserOut",
    "ValidationIn",
    "ValidationOut",
    "WalletOut",
    "dead_letter_out",
    "fixture_out",
    "purchase_out",
    "user_out",
]

Positive = Annotated[int, msgspec.Meta(ge=1)]
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
"""What a database BIGINT holds: a larger number is a 400 naming its field, not a 500."""
Id = Annotated[str, msgspec.Meta(min_length=1)]

MAX_BODY_BYTES = 64 * 1024
"""Every body the API reads is a small JSON document."""

MAX_TOP_UP = 10**12
"""The most one top-up may add, in CLP."""


# -- bodies -------------------------------------------------------------------------------


class PurchaseIn(msgspec.Struct):
    """``POST /requests``: what to buy. ``result`` is home/draw/away, a team name or ``---``."""

    fixture_id: Int64
    result: str
    quantity: Positive
    wallet: bool
    seller: Int64 = 0
    """Our group id for an admin's purchase for the group's inventory (CONTRACT §4b)."""


class ValidationIn(msgspec.Struct):
    """``PATCH /requests/validate``: a ``fixtures/validation`` message."""

    request_id: Id
    group_id: str | int
    valid: bool
    seller: Int64 = 0


class TopUpIn(msgspec.Struct):
    """``PUT /users/wallet``: money to add, whole CLP."""

    amount: Annotated[int, msgspec.Meta(ge=1, le=MAX_TOP_UP)]


class PaymentCreateIn(msgspec.Struct):
    """``POST /webpay/create``."""

    request_id: Id


class PaymentCommitIn(msgspec.Struct):
    """``POST /webpay/commit``: what Webpay sent to the return URL, as it sent it.

    ``token`` (the original frontend's body) is read as ``token_ws``.
    """

    token_ws: str | None = None
    token: str | None = None  # the original frontend's name for token_ws
    TBK_TOKEN: str | None = None  # Webpay's own parameter names
    TBK_ORDEN_COMPRA: str | None = None  # Webpay's own parameter names
    TBK_ID_SESION: str | None = None  # Webpay's own parameter names


# -- answers ------------------------------------------------------------------------------


class StatusOut(msgspec.Struct):
    long: str | None
    short: str
    elapsed: int | None


class FixtureInfoOut(msgspec.Struct):
    id: int
    referee: str | None
    timezone: str
    date: datetime
    timestamp: int
    status: StatusOut


class LeagueOut(msgspec.Struct):
    id: int | None
    name: str
    country: str | None
    logo: str | None
    flag: str | None
    season: int | None
    round: str


class TeamOut(msgspec.Struct):
    id: int
    name: str
    logo: str | None


class TeamsOut(msgspec.Struct):
    home: TeamOut
    away: TeamOut


class GoalsOut(msgspec.Struct):
    home: int | None
    away: int | None


class OddValueOut(msgspec.Struct):
    value: str
    odd: str


class OddsOut(msgspec.Struct):
    id: int
    name: str
    values: list[OddValueOut]


class FixtureOut(msgspec.Struct):
    """A fixture in the API-Football shape of the broker, plus our availability."""

    id: int
    fixture: FixtureInfoOut
    league: LeagueOut
    teams: TeamsOut
    goals: GoalsOut
    odds: list[OddsOut]
    available_bonds: int
    updated_at: datetime | None


class FixturePageOut(msgspec.Struct):
    fixtures: list[FixtureOut]
    total: int
    page: int
    count: int


class PurchaseFixtureOut(msgspec.Struct):
    """What a purchase shows of its fixture."""

    id: int
    home: str
    away: str
    league: str
    round: str
    kickoff: datetime


class LocationOut(msgspec.Struct):
    """Where the buyer bought from: the address and what a geolocation service said of it."""

    ip: str
    city: str | None
    region: str | None
    country: str | None
    lat: float | None
    lon: float | None


class PurchaseOut(msgspec.Struct):
    """One purchase with its fixture's summary.

    ``result`` is home, draw or away; ``result_name`` is the same result as the broker
    writes it: the backed team's name, or ``---`` for a draw.
    """

    request_id: str
    group_id: str
    fixture_id: int
    league_name: str
    round: str
    date: str
    result: Outcome
    result_name: str
    fixture: PurchaseFixtureOut | None
    quantity: int
    wallet: bool
    status: PurchaseStatus
    deposit_token: str
    seller: int
    created_at: datetime
    updated_at: datetime | None
    user_id: str | None
    payout: int | None
    payment_outcome: PaymentStatus | None
    location: LocationOut | None


class PaymentOut(msgspec.Struct):
    url: str
    token: str


class PurchaseCreatedOut(msgspec.Struct):
    request: PurchaseOut
    payment: PaymentOut | None


class PurchasePageOut(msgspec.Struct):
    requests: list[PurchaseOut]
    total: int
    page: int
    count: int


class ValidationOut(msgspec.Struct):
    """Whether the validation decided a purchase or was parked until its request arrives.

    False: the purchase was already decided, or the message changed nothing.
    """

    changed: bool


class UserOut(msgspec.Struct):
    id: str
    email: str | None
    name: str | None
    wallet: int
    admin: bool


class WalletOut(msgspec.Struct):
    wallet: int


class CommitOut(msgspec.Struct):
    status: str
    request: PurchaseOut


class ReceiptOut(msgspec.Struct):
    url: str


class ReceiptPendingOut(msgspec.Struct):
    status: str
    detail: str


class JobOut(msgspec.Struct):
    job_id: str


class RecommendationOut(msgspec.Struct):
    fixture: FixtureOut
    pond: float


class RecommendationsOut(msgspec.Struct):
    updated_at: datetime | None
    recommendations: list[RecommendationOut]


class HeartbeatOut(msgspec.Struct):
    available: bool


class HealthOut(msgspec.Struct):
    status: str


class ReadyOut(msgspec.Struct):
    """Overall ``ready`` and each dependency (database, broker, jobs) with its state."""

    ready: bool
    dependencies: dict[str, str]


class DeadLetterOut(msgspec.Struct):
    id: int
    topic: str
    payload: str
    reason: str
    received_at: datetime


class DeadLetterPageOut(msgspec.Struct):
    dead_letters: list[DeadLetterOut]
    total: int
    page: int
    count: int


class ProblemOut(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem document; ``field`` names the offending input when there is one."""

    type: str
    title: str
    status: int
    detail: str
    field: str | None = None


# -- conversions ------------------------------------------------------------------------


_FIXTURES_OUT_SIZE = 4096
_fixtures_out: dict[int, tuple[Fixture, FixtureOut]] = {}


def fixture_out(f: Fixture) -> FixtureOut:
    """The fixture's document; the one made before for this very object, if any.

    A ``Fixture`` is frozen and the SQL repository hands out the same object for an
    unchanged row, so a page of mostly unchanged fixtures is a few lookups by identity
    (the object is kept with its document: its id cannot be reused meanwhile). Callers
    only encode the document, never change it.
    """
    kept = _fixtures_out.get(id(f))
    if kept is not None and kept[0] is f:
        return kept[1]
    made = _fixture_out(f)
    if len(_fixtures_out) >= _FIXTURES_OUT_SIZE:
        _fixtures_out.clear()
    _fixtures_out[id(f)] = (f, made)
    return made


def _fixture_out(f: Fixture) -> FixtureOut:
    odds = []
    if f.odds is not None:
        odds = [
            OddsOut(
                id=1,
                name="Match Winner",
                values=[
                    OddValueOut("Home", str(f.odds.home)),
                    OddValueOut("Draw", str(f.odds.draw)),
                    OddValueOut("Away", str(f.odds.away)),
                ],
            )
        ]
    league = f.league
    return FixtureOut(
        id=f.id,
        fixture=FixtureInfoOut(
            id=f.id,
            referee=f.referee,
            timezone=f.timezone,
            date=f.kickoff,
            timestamp=int(f.kickoff.timestamp()),
            status=StatusOut(f.status_long, f.status, f.elapsed),
        ),
        league=LeagueOut(
            league.id,
            league.name,
            league.country,
            league.logo,
            league.flag,
            league.season,
            league.round,
        ),
        teams=TeamsOut(
            TeamOut(f.home.id, f.home.name, f.home.logo),
            TeamOut(f.away.id, f.away.name, f.away.logo),
        ),
        goals=GoalsOut(f.goals_home, f.goals_away),
        odds=odds,
        available_bonds=f.available_bonds or 0,
        updated_at=f.updated_at,
    )


def purchase_fixture_out(f: FixtureSummary) -> PurchaseFixtureOut:
    return PurchaseFixtureOut(f.id, f.home, f.away, f.league, f.round, f.kickoff)


def purchase_out(view: PurchaseView) -> PurchaseOut:
    p = view.purchase
    return PurchaseOut(
        request_id=p.request_id,
        group_id=p.group_id,
        fixture_id=p.fixture_id,
        league_name=p.league_name,
        round=p.round,
        date=p.date,
        result=p.result,
        result_name=view.wire_result,
        fixture=purchase_fixture_out(view.fixture) if view.fixture else None,
        quantity=p.quantity,
        wallet=p.wallet,
        status=p.status,
        deposit_token=p.deposit_token,
        seller=p.seller,
        created_at=p.created_at,
        updated_at=p.updated_at,
        user_id=p.user_id,
        payout=p.payout,
        payment_outcome=p.payment_status,
        location=location_out(p.location) if p.location else None,
    )


def location_out(location: Location) -> LocationOut:
    return LocationOut(
        location.ip, location.city, location.region, location.country, location.lat, location.lon
    )


def user_out(user: User, admin: bool) -> UserOut:
    return UserOut(user.id, user.email, user.name, user.wallet, admin)


def dead_letter_out(d: DeadLetter) -> DeadLetterOut:
    return DeadLetterOut(d.id, d.topic, d.payload, d.reason, d.received_at)
