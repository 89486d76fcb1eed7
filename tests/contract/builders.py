"""What the repository contract tests build: fixtures, purchases, and shortcuts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from goat_core.model import (
    Fixture,
    League,
    Location,
    Odds,
    Outcome,
    Purchase,
    PurchaseStatus,
    Team,
)
from tests.contract.conftest import Backend

NOW = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)
KICKOFF = datetime(2024, 10, 5, 14, 0, tzinfo=UTC)


def fixture(
    fixture_id: int = 1,
    *,
    home: str = "Arsenal",
    away: str = "Chelsea",
    kickoff: datetime = KICKOFF,
    status: str = "NS",
    odds: Odds | None = None,
) -> Fixture:
    return Fixture(
        id=fixture_id,
        kickoff=kickoff,
        league=League(
            id=39,
            name="Premier League",
            round="Regular Season - 12",
            country="England",
            logo="https://media.invalid/league/39.png",
            flag="https://media.invalid/flags/gb.svg",
            season=2024,
        ),
        home=Team(fixture_id * 10, home, f"https://media.invalid/{fixture_id * 10}.png"),
        away=Team(fixture_id * 10 + 1, away, None),
        status=status,
        status_long="Not Started",
        referee="M. Oliver",
        odds=odds or Odds(Decimal("1.85"), Decimal("3.40"), Decimal("4.10")),
    )


def purchase(
    request_id: str = "r1",
    *,
    user_id: str | None = "alice",
    fixture_id: int = 1,
    status: PurchaseStatus = PurchaseStatus.PENDING,
    created_at: datetime = NOW,
    quantity: int = 2,
    group_id: str = "15",
    deposit_token: str = "",
    buy_order: str | None = None,
) -> Purchase:
    return Purchase(
        request_id=request_id,
        group_id=group_id,
        fixture_id=fixture_id,
        league_name="Premier League",
        round="Regular Season - 12",
        date="2024-10-05",
        result=Outcome.DRAW,
        quantity=quantity,
        reserved=quantity,
        wallet=not deposit_token,
        created_at=created_at,
        status=status,
        deposit_token=deposit_token,
        user_id=user_id,
        buy_order=buy_order,
        payment_url="https://webpay.invalid/pay" if deposit_token else None,
        location=Location("200.1.2.3", "Santiago", "Santiago RM", "Chile", -33.45, -70.66),
        updated_at=created_at,
    )


def add_fixtures(backend: Backend, *fixtures: Fixture, bonds: int = 40) -> None:
    with backend.uow() as uow:
        uow.fixtures.upsert_many(list(fixtures), bonds, NOW)
        uow.commit()


def available(backend: Backend, fixture_id: int = 1) -> int | None:
    with backend.uow() as uow:
        found = uow.fixtures.get(fixture_id)
    return found.available_bonds if found else None


def add_purchases(backend: Backend, *purchases: Purchase) -> None:
    with backend.uow() as uow:
        for p in purchases:
            assert uow.purchases.add(p)
        uow.commit()
