"""Hypothesis strategies for goat's domain and wire types, kept in one module."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from goat_core.model import Fixture, League, Odds, Outcome, Team

names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20
).filter(lambda s: s.strip() != "")
"""Non-blank text, as team, league and status names must be."""

optional_text = st.none() | st.text(max_size=20)
small_ints = st.integers(min_value=0, max_value=10**6)

odds_values = st.decimals(
    min_value=Decimal("1.01"), max_value=Decimal("100"), places=2, allow_nan=False
)
"""Odds as the course writes them: positive, two decimals."""

kickoffs = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)

statuses = st.sampled_from(["NS", "TBD", "1H", "HT", "2H", "ET", "P", "FT", "AET", "PEN", "PST"])
goals = st.none() | st.integers(min_value=0, max_value=15)
outcomes = st.sampled_from(Outcome)
group_ids = st.integers(min_value=1, max_value=30).flatmap(lambda n: st.sampled_from([n, str(n)]))
"""A peer's group id, sent as an integer or as a string."""


@st.composite
def odds(draw: st.DrawFn) -> Odds:
    return Odds(draw(odds_values), draw(odds_values), draw(odds_values))


def teams(team_id: st.SearchStrategy[int] = small_ints) -> st.SearchStrategy[Team]:
    return st.builds(Team, id=team_id, name=names, logo=optional_text)


leagues = st.builds(
    League,
    id=st.none() | small_ints,
    name=names,
    round=st.text(max_size=30),
    country=optional_text,
    logo=optional_text,
    flag=optional_text,
    season=st.none() | st.integers(min_value=1990, max_value=2100),
)


@st.composite
def fixtures(draw: st.DrawFn, fixture_id: st.SearchStrategy[int] = small_ints) -> Fixture:
    """A fixture as the broker could describe it (no availability: that is ours)."""
    return Fixture(
        id=draw(fixture_id),
        kickoff=draw(kickoffs),
        league=draw(leagues),
        home=draw(teams()),
        away=draw(teams()),
        status=draw(statuses),
        status_long=draw(optional_text),
        elapsed=draw(st.none() | st.integers(min_value=0, max_value=130)),
        referee=draw(optional_text),
        timezone=draw(st.sampled_from(["UTC", "America/Santiago"])),
        goals_home=draw(goals),
        goals_away=draw(goals),
        odds=draw(st.none() | odds()),
    )


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any JSON document, biased towards objects carrying the keys goat reads."""
    keys = st.sampled_from(
        [
            "fixtures",
            "fixture",
            "id",
            "status",
            "short",
            "goals",
            "home",
            "away",
            "teams",
            "league",
            "name",
            "odds",
            "values",
            "value",
            "odd",
            "date",
            "request_id",
            "group_id",
            "fixture_id",
            "result",
            "quantity",
            "wallet",
            "valid",
            "seller",
        ]
    ) | st.text(max_size=5)
    leaves = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**40), max_value=2**40)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=10)
    )
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=5)
        ),
        max_leaves=max_leaves,
    )
