"""The statements of a fixture page, one per shape of page, prepared on PostgreSQL.

A page's statements depend only on which filters it has (a stage; a home team, an away
team, a date), so each shape is built once (``page_statement``) and runs as a prepared
statement with the values as parameters: through SQLAlchemy, building and executing the
three statements of a page cost ~0.8 ms of CPU per request, more than PostgreSQL took to
answer them. Most pages are now one statement: their rows carry their total. The
statuses are literals, not parameters, so that the partial indexes
``ix_fixtures_upcoming`` and ``ix_fixtures_open`` serve every plan. A team filter
matches its text against ``team_names`` and reads the fixtures of the names that matched
(``ix_fixtures_home_upcoming``, ``ix_fixtures_away_upcoming``), not every fixture.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import sqlalchemy as sa

from goat_adapters.sql import tables as t
from goat_adapters.sql.statements import Statement
from goat_core.model import ENDED_STATUSES, NOT_STARTED_STATUSES, FixtureStage
from goat_core.ports import FixtureQuery

__all__ = ["COUNTS", "Part", "page_parameters", "page_statement"]

_F = t.fixtures.c
Part = Literal["count", "upcoming", "rest"]


def _status_in(statuses: frozenset[str], negated: bool = False) -> sa.TextClause:
    listed = ", ".join(f"'{status}'" for status in sorted(statuses))
    return sa.text(f"fixtures.status {'NOT IN' if negated else 'IN'} ({listed})")


_UPCOMING = sa.and_(
    _status_in(NOT_STARTED_STATUSES), _F.kickoff > sa.bindparam("now", type_=_F.kickoff.type)
)
_STAGES = {
    FixtureStage.UPCOMING: _UPCOMING,
    FixtureStage.FINISHED: sa.and_(sa.not_(_UPCOMING), _status_in(ENDED_STATUSES)),
    FixtureStage.LIVE: sa.and_(sa.not_(_UPCOMING), _status_in(ENDED_STATUSES, negated=True)),
}

_NOT_ENDED = _status_in(ENDED_STATUSES, negated=True)


def _counts(dialect: str) -> sa.Select[int, int, int]:
    """How many fixtures are stored, upcoming, and not ended: ``all``, ``upcoming``, ``open``.

    PostgreSQL reads them from ``fixture_tally`` (kept by triggers, migration 0008) minus
    the fixtures not started whose kick-off has passed (the few the broker has not
    updated yet, an index range); SQLite counts.
    """
    if dialect != "postgresql":
        return sa.select(
            sa.func.count().label("all"),
            sa.func.count().filter(_UPCOMING).label("upcoming"),
            sa.func.count().filter(_NOT_ENDED).label("open"),
        ).select_from(t.fixtures)
    tally = t.fixture_tally.c
    late = (
        sa.select(sa.func.count())
        .select_from(t.fixtures)
        .where(
            _status_in(NOT_STARTED_STATUSES),
            _F.kickoff <= sa.bindparam("now", type_=_F.kickoff.type),
        )
        .scalar_subquery()
    )
    return sa.select(
        tally.fixtures.label("all"),
        (tally.not_started - late).label("upcoming"),
        tally.not_ended.label("open"),
    ).where(tally.id == 1)


COUNTS = Statement(_counts, writes=False)
"""The three counts an unfiltered page needs, in one statement (read alone when they do
not come with the page's rows)."""


@functools.cache
def page_statement(
    stage: FixtureStage | None,
    home: bool,
    away: bool,
    date: bool,
    part: Part,
    *,
    counted: bool = False,
) -> tuple[Statement, frozenset[str]]:
    """The statement of one part of a page of this shape, and the names of its values:
    the count of the matching fixtures, or the upcoming rows by kick-off, or the rest
    latest first. A filtered shape's rows carry ``matching``, the count of every row the
    filters keep (one scan of them for the page and its total); an unfiltered shape's
    rows, when ``counted``, carry ``COUNTS``' three columns, ``all``, ``upcoming`` and
    ``open``."""
    where: list[sa.ColumnElement[bool] | sa.TextClause] = []
    if stage is not None:
        where.append(_STAGES[stage])
    if home:
        where.append(_F.home_search.in_(_names_like("home")))
    if away:
        where.append(_F.away_search.in_(_names_like("away")))
    if date:
        where.append(_F.kickoff_date == sa.bindparam("date", type_=_F.kickoff_date.type))
    if part == "count":
        counting = sa.select(sa.func.count().label("n")).select_from(t.fixtures).where(*where)
        return Statement(counting), _names(counting)
    filtered = home or away or date
    ascending = part == "upcoming"
    in_part = _UPCOMING if ascending else sa.not_(_UPCOMING)
    # a stage that implies the part is not followed by the part's condition: PostgreSQL
    # would count the selectivity twice, and expect too few rows to read them in order
    if ascending:
        implied = stage is FixtureStage.UPCOMING
    else:
        implied = stage in (FixtureStage.FINISHED, FixtureStage.LIVE)
    kept = sa.and_(*where) if implied else sa.and_(*where, in_part)
    limit = sa.bindparam("limit", type_=sa.Integer)
    offset = sa.bindparam("offset", type_=sa.Integer)
    if filtered:
        # the matches' ids and kick-offs (narrow rows) are counted and ordered; only the
        # page's 25 fixtures are read whole (ordering and counting the 132 whole rows of
        # ?home=Team 17 took PostgreSQL 0.36 ms a page, against 0.27)
        matches = sa.select(_F.id, _F.kickoff).where(kept).cte("matches")
        page = (
            sa.select(matches)
            .order_by(*_order(matches.c, ascending))
            .limit(limit)
            .offset(offset)
            .subquery("page")
        )
        total = sa.select(sa.func.count()).select_from(matches).scalar_subquery()
        shown = (
            sa.select(t.fixtures, total.label("matching"))
            .join_from(page, t.fixtures, _F.id == page.c.id)
            .order_by(*_order(page.c, ascending))
        )
        return Statement(shown), _names(shown)
    rows = sa.select(t.fixtures).where(kept).order_by(*_order(t.fixtures.c, ascending))
    rows = rows.limit(limit).offset(offset)

    def ordered(dialect: str) -> sa.Select[Any]:
        if not counted:
            return rows
        # the page's totals ride on its rows, joined to the page's rows only (joined to
        # the fixtures, PostgreSQL read the counts' row once per fixture skipped)
        page = rows.subquery("page")
        counts = _counts(dialect).subquery("counts")
        joined = sa.select(page, counts).join_from(page, counts, sa.true())
        return joined.order_by(*_order(page.c, ascending))

    names = _names(ordered("postgresql")) | _names(ordered("sqlite"))
    return Statement(ordered), names


def _order(columns: Any, ascending: bool) -> tuple[sa.ColumnElement[Any], ...]:
    """Upcoming fixtures by kick-off; the rest latest first (ties by id)."""
    if ascending:
        return columns.kickoff, columns.id
    return columns.kickoff.desc(), columns.id


def _names_like(name: str) -> sa.Select[tuple[str]]:
    """The team names containing a filter's text (``team_names``: a few hundred, where
    ``LIKE '%text%'`` on the fixtures would read every one of them)."""
    names = t.team_names.c.search
    return sa.select(names).where(names.like(sa.bindparam(name), escape="/"))


def _names(construct: sa.Select[Any]) -> frozenset[str]:
    return frozenset(construct.compile().params)


def page_parameters(query: FixtureQuery) -> dict[str, Any]:
    """The values of a page's statements (those a shape does not use are ignored)."""
    values: dict[str, Any] = {"now": query.now}
    if query.home:
        values["home"] = _contains(query.home)
    if query.away:
        values["away"] = _contains(query.away)
    if query.date:
        values["date"] = query.date
    return values


def _contains(text: str) -> str:
    """A LIKE pattern (escape ``/``) for names containing ``text``, casefolded as stored."""
    escaped = text.casefold().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"
