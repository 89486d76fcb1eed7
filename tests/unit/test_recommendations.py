"""Recommendations: the course formula over a user's won bonds (CONTRACT §2)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from goat_core.model import League, Odds, Outcome, Recommendation, Recommendations
from goat_core.services import rank
from tests.unit.support import KICKOFF, USER, World, make_fixture


def _odds(home: str, away: str) -> Odds:
    return Odds(Decimal(home), Decimal("3.00"), Decimal(away))


def _ponds(items: tuple[Recommendation, ...]) -> list[tuple[int, Decimal]]:
    return [(r.fixture_id, r.pond) for r in items]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Regular Season - 12", 12),
        ("Regular Season - 7", 7),
        ("Round 3 ", 3),
        ("Group Stage - 1", 1),
        ("Final", 0),
        ("", 0),
    ],
)
def test_round_number_is_the_trailing_number(text: str, number: int) -> None:
    """league_round is the number at the end of league.round, 0 when there is none."""
    assert League(1, "L", text).round_number == number


def test_pond_is_hits_times_round_over_the_backed_team_odd() -> None:
    """pond = hits × league_round / odd of the team the user backed, home or away."""
    home_game = make_fixture(2, home="Arsenal", away="Everton", odds=_odds("2.00", "4.00"))
    away_game = make_fixture(
        3, home="Everton", away="Arsenal", odds=_odds("1.50", "4.00"), league_round="R - 14"
    )

    items = rank([home_game, away_game], {"Arsenal": 2}, None)

    assert _ponds(items) == [(2, Decimal(12)), (3, Decimal(7))]  # 2×12/2.00, 2×14/4.00


def test_fixture_of_two_backed_teams_adds_both_terms() -> None:
    """When both teams were backed, both terms add up."""
    fixture = make_fixture(2, home="Arsenal", away="Chelsea", odds=_odds("2.00", "4.00"))

    (item,) = rank([fixture], {"Arsenal": 1, "Chelsea": 2}, None)

    assert item.pond == Decimal(12) / Decimal("2.00") + Decimal(24) / Decimal("4.00")


def test_only_the_top_three_highest_first() -> None:
    """Of many scored fixtures the three highest are kept, highest first."""
    upcoming = [
        make_fixture(i, home="Arsenal", away=f"Team {i}", odds=_odds(f"{i}.00", "2.00"))
        for i in range(2, 7)
    ]

    items = rank(upcoming, {"Arsenal": 1}, None)

    assert [r.fixture_id for r in items] == [2, 3, 4]
    assert [r.pond for r in items] == sorted((r.pond for r in items), reverse=True)


def test_fixtures_without_hits_are_not_recommended() -> None:
    """A fixture none of whose teams the user won on scores nothing and is left out."""
    fixture = make_fixture(2, home="Everton", away="Fulham")

    assert rank([fixture], {"Arsenal": 3}, None) == ()


def test_already_recommended_fixtures_move_to_the_front() -> None:
    """A fixture that was recommended last time comes before new ones."""
    upcoming = [
        make_fixture(i, home="Arsenal", away=f"Team {i}", odds=_odds(f"{i}.00", "2.00"))
        for i in range(2, 5)
    ]
    previous = Recommendations(USER, KICKOFF, (Recommendation(4, Decimal(1)),))

    items = rank(upcoming, {"Arsenal": 1}, previous)

    assert [r.fixture_id for r in items] == [4, 2, 3]


def test_recommend_uses_won_bonds_and_upcoming_fixtures() -> None:
    """recommend() counts the user's won bonds by backed team and ranks upcoming fixtures."""
    world = World()
    world.add_fixtures(
        make_fixture(1, home="Arsenal", away="Chelsea"),
        make_fixture(
            2,
            home="Everton",
            away="Arsenal",
            kickoff=KICKOFF + timedelta(days=7),
            odds=_odds("1.50", "2.50"),
            league_round="Regular Season - 13",
        ),
        make_fixture(3, home="Chelsea", away="Fulham", kickoff=KICKOFF + timedelta(days=7)),
    )
    world.fund(USER, 10_000)
    won = world.buy(USER, 1, Outcome.HOME, 2).purchase.request_id
    lost = world.buy(USER, 1, Outcome.AWAY, 3).purchase.request_id
    world.validate(won, True)
    world.validate(lost, True)
    world.result(1, "FT", 1, 0)

    recommendations = world.exchange.recommend(USER)

    assert _ponds(recommendations.items) == [(2, Decimal(26) / Decimal("2.50"))]
    assert recommendations.updated_at == world.clock.now()
    with world.store.unit_of_work() as uow:
        assert uow.recommendations.get(USER) == recommendations


def test_no_wins_no_recommendations(world: World) -> None:
    """A user who never won gets an empty list, stored with its time."""
    recommendations = world.exchange.recommend(USER)

    assert recommendations.items == ()
    assert recommendations.updated_at == world.clock.now()


def test_the_rough_first_pass_keeps_exact_ties_in_fixture_order() -> None:
    """Ponds equal as decimals but not as floats (3/5.55 = 1/1.85) stay tied, broken by id."""
    upcoming = [
        make_fixture(9, home="Arsenal", away="Everton", odds=_odds("1.85", "4.00")),
        make_fixture(4, home="Leeds", away="Everton", odds=_odds("5.55", "4.00")),
        make_fixture(7, home="Arsenal", away="Fulham", odds=_odds("1.85", "4.00")),
        make_fixture(5, home="Leeds", away="Fulham", odds=_odds("5.55", "4.00")),
    ]

    items = rank(upcoming, {"Arsenal": 1, "Leeds": 3}, None)

    assert [r.fixture_id for r in items] == [4, 5, 7]
    assert len({r.pond for r in items}) == 1
