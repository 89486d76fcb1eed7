"""``ports.FixtureRepository`` on the ``fixtures`` table.

Every check-and-change is a single conditional statement (``UPDATE ... WHERE available
>= :q``) whose row count says whether it happened: nothing is read first and written
after, so no amount of concurrency can oversell a fixture.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import Executable

from goat_adapters.sql import tables as t
from goat_adapters.sql.pages import COUNTS, Part, page_parameters, page_statement
from goat_adapters.sql.statements import (
    Batch,
    Statement,
    Transaction,
    advisory_lock,
    changed,
    dialect_insert,
    one_of,
)
from goat_core.model import (
    FINISHED_STATUSES,
    NOT_STARTED_STATUSES,
    Fixture,
    FixtureStage,
    FixtureSummary,
    League,
    MatchState,
    Odds,
    Team,
)
from goat_core.ports import FixtureLine, FixtureQuery

__all__ = ["GET_MANY", "RESERVE", "SqlFixtureRepository", "fixture_of"]

_NOT_STARTED = sorted(NOT_STARTED_STATUSES)
_F = t.fixtures.c

_GET = Statement(sa.select(t.fixtures).where(_F.id == sa.bindparam("fixture_id")))
_LINES = Statement(
    lambda dialect: (
        sa.select(_F.id, _F.home_name, _F.away_name, _F.league_round, _F.odds_home, _F.odds_away)
        .where(
            one_of(dialect, _F.status, "statuses"),
            _F.kickoff > sa.bindparam("now", type_=_F.kickoff.type),
            _F.odds_home.is_not(None),
            _F.odds_draw.is_not(None),
            _F.odds_away.is_not(None),
            sa.or_(one_of(dialect, _F.home_name, "teams"), one_of(dialect, _F.away_name, "teams")),
        )
        .order_by(_F.id)
    )
)
GET_MANY = Statement(lambda dialect: sa.select(t.fixtures).where(one_of(dialect, _F.id, "ids")))
_SUMMARIES = Statement(
    lambda dialect: sa.select(
        _F.id, _F.home_name, _F.away_name, _F.league_name, _F.league_round, _F.kickoff
    ).where(one_of(dialect, _F.id, "ids"))
)
RESERVE = Statement(
    sa.update(t.fixtures)
    .where(_F.id == sa.bindparam("fixture_id"), _F.available >= sa.bindparam("quantity"))
    .values(available=_F.available - sa.bindparam("quantity"))
)
"""Take ``quantity`` bonds if that many are available: the row lock orders concurrent
buyers and each re-checks the condition on the row as the one before left it."""
_AVAILABLE_MANY_LOCKED = Statement(
    lambda dialect: (
        sa.select(_F.id, _F.available)
        .where(one_of(dialect, _F.id, "ids"))
        .order_by(_F.id)  # the lots' order: two writers never deadlock
        .with_for_update()
    )
)
# FOR UPDATE is ignored by SQLite, whose BEGIN IMMEDIATE already holds the only write lock
_AVAILABLE_LOCKED = Statement(
    sa.select(_F.available).where(_F.id == sa.bindparam("fixture_id")).with_for_update()
)

_BROKER_COLUMNS = (
    "kickoff",
    "kickoff_date",
    "timezone",
    "status",
    "status_long",
    "elapsed",
    "referee",
    "league_id",
    "league_name",
    "league_round",
    "league_country",
    "league_logo",
    "league_flag",
    "league_season",
    "home_id",
    "home_name",
    "home_search",
    "home_logo",
    "away_id",
    "away_name",
    "away_search",
    "away_logo",
    "goals_home",
    "goals_away",
    "odds_home",
    "odds_draw",
    "odds_away",
)
"""What fixtures/info says of a fixture: all an update may change (never availability)."""


_RESULT_COLUMNS = ("status", "status_long", "elapsed", "goals_home", "goals_away")


def _finished(f: Any) -> sa.ColumnElement[bool]:
    """The stored fixture has its final result: a finished status and both goals."""
    return sa.and_(
        # literal values: an expanding IN cannot run once per row of an executemany
        f.status.in_([sa.literal_column(f"'{status}'") for status in sorted(FINISHED_STATUSES)]),
        f.goals_home.is_not(None),
        f.goals_away.is_not(None),
    )


def _upsert(dialect: str) -> Executable:
    """Insert fixtures, or update the broker's columns of known ones (never availability)."""
    insert = dialect_insert(dialect, t.fixtures)
    values: dict[str, Any] = {name: insert.excluded[name] for name in _BROKER_COLUMNS}
    for name in _RESULT_COLUMNS:  # a late fixtures/info must not reopen a finished fixture
        values[name] = sa.case((_finished(_F), _F[name]), else_=insert.excluded[name])
    return insert.on_conflict_do_update(
        index_elements=[_F.id], set_={**values, "updated_at": insert.excluded.updated_at}
    )


_UPSERT = Statement(_upsert)


def _broker_values(fixture: Fixture) -> dict[str, Any]:
    odds = fixture.odds
    return {
        "id": fixture.id,
        "kickoff": fixture.kickoff,
        "kickoff_date": fixture.kickoff.date(),
        "timezone": fixture.timezone,
        "status": fixture.status,
        "status_long": fixture.status_long,
        "elapsed": fixture.elapsed,
        "referee": fixture.referee,
        "league_id": fixture.league.id,
        "league_name": fixture.league.name,
        "league_round": fixture.league.round,
        "league_country": fixture.league.country,
        "league_logo": fixture.league.logo,
        "league_flag": fixture.league.flag,
        "league_season": fixture.league.season,
        "home_id": fixture.home.id,
        "home_name": fixture.home.name,
        "home_search": fixture.home.name.casefold(),
        "home_logo": fixture.home.logo,
        "away_id": fixture.away.id,
        "away_name": fixture.away.name,
        "away_search": fixture.away.name.casefold(),
        "away_logo": fixture.away.logo,
        "goals_home": fixture.goals_home,
        "goals_away": fixture.goals_away,
        "odds_home": str(odds.home) if odds else None,
        "odds_draw": str(odds.draw) if odds else None,
        "odds_away": str(odds.away) if odds else None,
    }


_MEMO_SIZE = 4096
_memo: dict[tuple[Any, ...], Fixture] = {}


_COLUMNS = len(t.fixtures.columns)


def _totals(stage: FixtureStage | None, stored: int, upcoming: int, open_: int) -> tuple[int, int]:
    """An unfiltered page's total, and how many of its fixtures come before the rest (the
    upcoming ones), from ``pages.COUNTS``: every fixture stored, upcoming, not ended."""
    if stage is None:
        return stored, upcoming
    if stage is FixtureStage.UPCOMING:
        return upcoming, upcoming
    if stage is FixtureStage.FINISHED:  # upcoming is never ended
        return stored - open_, 0
    return open_ - upcoming, 0  # live: not ended, not upcoming


def fixture_of(row: Any) -> Fixture:
    """The fixture a full ``fixtures`` row describes; the same object for an equal row.

    A page of 25 fixtures is mostly rows already seen (nothing changed since): a lookup by
    the row's values (every column, ``available`` and ``updated_at`` included) costs far
    less than building the objects, and hands the HTTP layer the same (frozen) object, so
    that it can reuse what it made of it. At most ``_MEMO_SIZE`` rows are kept (then it
    starts over); concurrent readers only ever add equal values.
    """
    key = tuple(row)[:_COLUMNS]  # a filtered page's rows also carry their count
    found = _memo.get(key)
    if found is None:
        if len(_memo) >= _MEMO_SIZE:
            _memo.clear()
        found = _memo[key] = _built(row)
    return found


def _built(row: Any) -> Fixture:
    odds = None
    if row.odds_home is not None and row.odds_draw is not None and row.odds_away is not None:
        odds = Odds(Decimal(row.odds_home), Decimal(row.odds_draw), Decimal(row.odds_away))
    return Fixture(
        id=row.id,
        kickoff=row.kickoff,
        league=League(
            id=row.league_id,
            name=row.league_name,
            round=row.league_round,
            country=row.league_country,
            logo=row.league_logo,
            flag=row.league_flag,
            season=row.league_season,
        ),
        home=Team(row.home_id, row.home_name, row.home_logo),
        away=Team(row.away_id, row.away_name, row.away_logo),
        status=row.status,
        status_long=row.status_long,
        elapsed=row.elapsed,
        referee=row.referee,
        timezone=row.timezone,
        goals_home=row.goals_home,
        goals_away=row.goals_away,
        odds=odds,
        available_bonds=row.available,
        updated_at=row.updated_at,
    )


class SqlFixtureRepository:
    """``ports.FixtureRepository`` on the ``fixtures`` table."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def upsert_many(self, fixtures: Sequence[Fixture], initial_bonds: int, now: datetime) -> None:
        """Insert new fixtures with ``initial_bonds`` available; update known ones in place.

        ``INSERT ... ON CONFLICT (id) DO UPDATE`` executed for the whole batch at once;
        the update sets the broker's columns only, never availability.
        """
        latest = {fixture.id: fixture for fixture in fixtures}  # a repeated id: last wins
        rows = [
            {**_broker_values(f), "available": initial_bonds, "updated_at": now}
            for f in latest.values()
        ]
        # One statement executed for every row, in one round trip. (A single multi-row
        # VALUES statement is compiled anew for every message and measured 2-5 times
        # slower.)
        self._tx.run_many([Batch(_UPSERT, rows)])

    def get(self, fixture_id: int) -> Fixture | None:
        """The fixture with its availability, or None."""
        found = self._tx.run(_GET, {"fixture_id": fixture_id}).first()
        return fixture_of(found) if found else None

    def get_many(self, fixture_ids: Collection[int]) -> dict[int, Fixture]:
        """The stored fixtures among ``fixture_ids``, by id, in one query."""
        if not fixture_ids:
            return {}
        rows = self._tx.run(GET_MANY, {"ids": list(fixture_ids)}).rows
        return {row.id: fixture_of(row) for row in rows}

    def summaries(self, fixture_ids: Collection[int]) -> dict[int, FixtureSummary]:
        """Six columns of each fixture instead of thirty: a page of purchases shows them."""
        if not fixture_ids:
            return {}
        rows = self._tx.run(_SUMMARIES, {"ids": list(fixture_ids)}).rows
        return {row.id: FixtureSummary(*row) for row in rows}

    def page(self, query: FixtureQuery) -> tuple[list[Fixture], int]:
        """One page of the matching fixtures (upcoming first, see the port), and the total.

        Upcoming by kick-off, then the rest latest first: two index-ordered reads rather
        than one sort of every matching row by a computed rank. Each statement is
        prepared once per shape of page (``pages.page_statement``). A filtered page (only
        one stage) takes its total from the count of its matches on its rows, so the
        filters scan the fixtures once. An unfiltered first page, or a page of one stage,
        takes ``pages.COUNTS``' columns from its rows; a later page of the whole list reads
        them first, to know where it starts. A page with no rows counts on its own.
        """
        stage = query.wanted_stage
        shape = (stage, bool(query.home), bool(query.away), bool(query.date))
        values = page_parameters(query)
        skip = max(0, (query.page - 1) * query.count)

        def run(part: Part, counted: bool = False, **more: int) -> list[Any]:
            statement, names = page_statement(*shape, part, counted=counted)
            given = {**values, **more}
            return self._tx.run(statement, {k: v for k, v in given.items() if k in names}).rows

        if any(shape[1:]):
            part: Part = "upcoming" if stage is FixtureStage.UPCOMING else "rest"
            rows = run(part, limit=query.count, offset=skip)
            # no rows: past the last page (counted), or nothing matches
            total = int(rows[0].matching) if rows else int(run("count")[0].n) if skip else 0
            return [fixture_of(row) for row in rows], total
        rows = []
        if stage is None and skip:
            # a later page of the whole list: the counts say where it starts
            counts = self._tx.run(COUNTS, {"now": query.now}).rows[0]
        else:
            # a first page, or a page of one stage: its rows carry the counts (one
            # statement); with no rows, past the last page or nothing upcoming, they are
            # read alone
            first: Part = "upcoming" if stage in (None, FixtureStage.UPCOMING) else "rest"
            rows = run(first, counted=True, limit=query.count, offset=skip)
            counts = rows[0] if rows else self._tx.run(COUNTS, {"now": query.now}).rows[0]
        total, ahead = _totals(stage, int(counts.all), int(counts.upcoming), int(counts.open))
        if stage is None:
            if skip < ahead and not rows:
                rows = run("upcoming", limit=query.count, offset=skip)
            if len(rows) < query.count and total > ahead:
                rows += run("rest", limit=query.count - len(rows), offset=max(0, skip - ahead))
        return [fixture_of(row) for row in rows], total

    def upcoming(self, now: datetime) -> list[Fixture]:
        """Every fixture that has not started at ``now``, by kick-off."""
        f = t.fixtures.c
        rows = self._tx.execute(
            sa.select(t.fixtures)
            .where(f.status.in_(_NOT_STARTED), f.kickoff > now)
            .order_by(f.kickoff, f.id)
        )
        return [fixture_of(row) for row in rows]

    def lines(self, now: datetime, teams: Collection[str]) -> list[FixtureLine]:
        """The not-started fixtures with odds where one of ``teams`` plays, six columns each
        (prepared on PostgreSQL: a recommendation reads thousands)."""
        if not teams:
            return []
        ran = self._tx.run(_LINES, {"statuses": _NOT_STARTED, "now": now, "teams": sorted(teams)})
        return [
            FixtureLine(
                row.id,
                row.home_name,
                row.away_name,
                row.league_round,
                Decimal(row.odds_home),
                Decimal(row.odds_away),
            )
            for row in ran.rows
        ]

    def lock(self, fixture_id: int) -> None:
        """An advisory lock named after the fixture's result: the row stays free for buyers."""
        advisory_lock(self._tx, f"fixture-result:{fixture_id}")

    def lock_shared(self, fixture_id: int) -> None:
        advisory_lock(self._tx, f"fixture-result:{fixture_id}", shared=True)

    def apply_result(self, result: MatchState, now: datetime) -> bool:
        """Record status and goals from fixtures/history; False if the fixture is unknown.

        The guard is in the statement: a late in-play result racing the final one must
        not reopen the fixture.
        """
        f = t.fixtures.c
        where = [f.id == result.fixture_id]
        if not result.is_final:
            where.append(sa.not_(_finished(f)))
        return changed(
            self._tx.execute(
                sa.update(t.fixtures)
                .where(*where)
                .values(
                    status=result.status,
                    status_long=result.status_long,
                    elapsed=result.elapsed,
                    goals_home=result.goals_home,
                    goals_away=result.goals_away,
                    updated_at=now,
                )
            )
        )

    def reserve(self, fixture_id: int, quantity: int) -> int:
        """Take as many of ``quantity`` bonds as are available; return how many were taken.

        First all of them at once (``RESERVE``); if fewer are left, lock the row, read
        what is left, and take that.
        """
        if quantity <= 0:
            return 0
        if self._tx.run(RESERVE, {"fixture_id": fixture_id, "quantity": quantity}).rowcount:
            return quantity
        found = self._tx.run(_AVAILABLE_LOCKED, {"fixture_id": fixture_id}).first()
        if found is None or not found.available:
            return 0
        taken = min(int(found.available), quantity)
        self._tx.run(RESERVE, {"fixture_id": fixture_id, "quantity": taken})
        return taken

    def reserve_many(self, wanted: Mapping[int, int]) -> dict[int, int]:
        """``reserve`` for several fixtures: their rows locked and read in one statement,
        then what can be taken of each, taken in one round trip."""
        wanted = {fixture: quantity for fixture, quantity in wanted.items() if quantity > 0}
        if not wanted:
            return {}
        rows = self._tx.run(_AVAILABLE_MANY_LOCKED, {"ids": sorted(wanted)}).rows
        taken = {row.id: min(int(row.available), wanted[row.id]) for row in rows}
        self._tx.run_many(
            [
                Batch(
                    RESERVE,
                    [{"fixture_id": f, "quantity": q} for f, q in sorted(taken.items()) if q],
                )
            ]
        )
        return taken

    def release(self, fixture_id: int, quantity: int) -> None:
        """Give ``quantity`` previously reserved bonds back."""
        if quantity <= 0:
            return
        f = t.fixtures.c
        self._tx.execute(
            sa.update(t.fixtures).where(f.id == fixture_id).values(available=f.available + quantity)
        )
