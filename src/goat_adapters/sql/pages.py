"""The statements of a fixture page, one per shape of page, prepared on PostgreSQL.

A page's statements depend only on which filters it has (a stage; a home team, an away
team, a date), so each shape is built once (``page_statement``) and runs as a prepared
statement with the values as parameters: through SQLAlchemy, building and executing the
three statements of a page cost ~0.8 ms of CPU per request, more than PostgreSQL took to
answer them. The statuses are literals, not parameters, so that the partial indexes
``ix_fixtures_upcoming`` and ``ix_fixtures_open`` serve every plan.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import sqlalchemy as sa

from goat_adapters.sql import tables as t
from goat_adapters.sql.statements import Statement
from goat_core.model import ENDED_STATUSES, NOT_STARTED_STATUSES, FixtureStage
from goat_core.ports import FixtureQuery

__all__ = ["TALLY", "Part", "page_parameters", "page_statement"]

_F = t.fixtures.c
Part = Literal["count", "count_upcoming", "count_open", "upcoming", "rest"]


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

TALLY = Statement(
    sa.select(t.fixture_tally.c.fixtures).where(t.fixture_tally.c.id == 1), writes=False
)
"""How many fixtures are stored (PostgreSQL, where a trigger keeps the tally)."""


@functools.cache
def page_statement(
    stage: FixtureStage | None, home: bool, away: bool, date: bool, part: Part
) -> tuple[Statement, frozenset[str]]:
    """The statement of one part of a page of this shape, and the names of its values: a
    count (of the matching fixtures, of those upcoming, of those not ended), or the
    upcoming rows by kick-off, or the rest latest first."""
    where: list[sa.ColumnElement[bool] | sa.TextClause] = []
    if stage is not None:
        where.append(_STAGES[stage])
    if home:
        where.append(_F.home_search.like(sa.bindparam("home"), escape="/"))
    if away:
        where.append(_F.away_search.like(sa.bindparam("away"), escape="/"))
    if date:
        where.append(_F.kickoff_date == sa.bindparam("date", type_=_F.kickoff_date.type))
    if part.startswith("count"):
        if part == "count_upcoming":
            where.append(_UPCOMING)
        elif part == "count_open":
            where = [_status_in(ENDED_STATUSES, negated=True)]
        counted = sa.select(sa.func.count().label("n")).select_from(t.fixtures).where(*where)
        return Statement(counted), _names(counted)
    limit = sa.bindparam("limit", type_=sa.Integer)
    offset = sa.bindparam("offset", type_=sa.Integer)
    if part == "upcoming":
        ordered = sa.select(t.fixtures).where(*where, _UPCOMING).order_by(_F.kickoff, _F.id)
    else:
        ordered = (
            sa.select(t.fixtures)
            .where(*where, sa.not_(_UPCOMING))
            .order_by(_F.kickoff.desc(), _F.id)
        )
    ordered = ordered.limit(limit).offset(offset)
    return Statement(ordered), _names(ordered)


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
