"""One repository per port of ``goat_core.ports``, on SQLAlchemy Core.

Every check-and-change is a single conditional statement (``UPDATE ... WHERE available
>= :q``, ``... WHERE status IN (...)``, ``INSERT ... ON CONFLICT DO NOTHING``) whose row
count says whether it happened: nothing is read first and written after, so no amount
of concurrency can oversell a fixture, overdraw a wallet or apply an effect twice.

On PostgreSQL the statements of a purchase (fixture read, purchase insert, debit with its
ledger row, outbox insert, reservation) are plain SQL run straight on psycopg as prepared
statements (``Transaction.run``); SQLite, and everything else, goes through SQLAlchemy.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Row
from sqlalchemy.sql import Executable

from goat_adapters.sql import tables as t
from goat_core.errors import Conflict, GoatError, NotEnoughBonds, NotEnoughMoney, Unavailable
from goat_core.model import (
    FINISHED_STATUSES,
    NOT_STARTED_STATUSES,
    DeadLetter,
    Fixture,
    League,
    LedgerEntry,
    LedgerKind,
    MatchState,
    Odds,
    OutboxMessage,
    Outcome,
    PaymentStatus,
    Purchase,
    PurchaseStatus,
    Recommendation,
    Recommendations,
    Team,
    User,
    ValidationMessage,
)
from goat_core.ports import FixtureQuery

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "SqlAuctions",
    "SqlDeadLetters",
    "SqlFixtureRepository",
    "SqlInbox",
    "SqlOutbox",
    "SqlParkedValidations",
    "SqlPurchaseRepository",
    "SqlRecommendationRepository",
    "SqlUserRepository",
    "SqlWalletRepository",
]

_NOT_STARTED = sorted(NOT_STARTED_STATUSES)

Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


class Transaction(Protocol):
    """What a repository needs of its unit of work: a dialect and a way to run SQL."""

    @property
    def dialect(self) -> str: ...

    def execute(
        self, statement: Executable, parameters: Parameters = None
    ) -> CursorResult[Any]: ...

    @property
    def prepares(self) -> bool:
        """Whether ``run()`` is there: PostgreSQL through psycopg."""

    def run(
        self, sql: str, parameters: Mapping[str, Any], *, writes: bool = True
    ) -> psycopg.Cursor[Any]:
        """Run raw PostgreSQL straight on psycopg, prepared, in the same transaction."""

    def defer(self, sql: str, parameters: Mapping[str, Any], error: GoatError) -> None:
        """Like ``run()``, without waiting; ``error`` later if it changes no row."""


# The statements of the purchase path are built once: SQLAlchemy then reuses their cache
# key and compiled form, and psycopg its server-side prepared statement.
_F, _P, _U = t.fixtures.c, t.purchases.c, t.users.c
_GET_FIXTURE = sa.select(t.fixtures).where(_F.id == sa.bindparam("fixture_id"))
_GET_FIXTURES = sa.select(t.fixtures).where(_F.id.in_(sa.bindparam("ids", expanding=True)))
_RESERVE = (
    sa.update(t.fixtures)
    .where(_F.id == sa.bindparam("fixture_id"), _F.available >= sa.bindparam("quantity"))
    .values(available=_F.available - sa.bindparam("quantity"))
)
_GET_PURCHASE = sa.select(t.purchases).where(_P.request_id == sa.bindparam("rid"))
_GET_USER = sa.select(t.users).where(_U.id == sa.bindparam("user_id"))
_BALANCES = sa.select(_U.id, _U.wallet).where(_U.id.in_(sa.bindparam("ids", expanding=True)))
_DEBIT = (
    sa.update(t.users)
    .where(_U.id == sa.bindparam("user_id"), _U.wallet >= sa.bindparam("amount"))
    .values(wallet=_U.wallet - sa.bindparam("amount"))
)
_TRANSITION = (
    sa.update(t.purchases)
    .where(
        _P.request_id == sa.bindparam("rid"),
        _P.status.in_(sa.bindparam("allowed", expanding=True)),
    )
    .values(
        status=sa.bindparam("to", type_=sa.String),
        updated_at=sa.bindparam("now", type_=t.UtcDateTime),
        # None keeps what is there
        payout=sa.func.coalesce(sa.bindparam("new_payout", type_=sa.BigInteger), _P.payout),
        payment_outcome=sa.func.coalesce(
            sa.bindparam("new_outcome", type_=sa.String), _P.payment_outcome
        ),
    )
)
_V = t.parked_validations.c
_TAKE_PARKED = (
    sa.delete(t.parked_validations)
    .where(_V.request_id == sa.bindparam("rid"))
    .returning(_V.request_id, _V.group_id, _V.valid, _V.seller)
)
_ADD_LEDGER = sa.insert(t.ledger).inline()  # inline: no RETURNING of the new id
_ADD_OUTBOX = sa.insert(t.outbox).inline()

# The same statements in PostgreSQL's own words, run by ``Transaction.run()`` straight on
# psycopg (prepared on the server): a purchase is five of them, and SQLAlchemy's execution
# layer costs as much CPU per statement as psycopg itself. The debit and its ledger row
# are one statement: the ledger row is written exactly when the conditional UPDATE took
# the money, and the row count (0 or 1) says which.
# (The column names come from tables.py, never from input.)
_FIXTURE_COLUMNS = tuple(column.name for column in t.fixtures.columns)
_PG_GET_FIXTURE = (
    f"SELECT {', '.join(_FIXTURE_COLUMNS)} FROM fixtures"  # noqa: S608
    " WHERE id = %(id)s::bigint"
)
_PG_GET_FIXTURES = (
    f"SELECT {', '.join(_FIXTURE_COLUMNS)} FROM fixtures"  # noqa: S608
    " WHERE id = ANY(%(ids)s::bigint[])"
)
_PG_BALANCES = "SELECT id, wallet FROM users WHERE id = ANY(%(ids)s::varchar[])"
_PG_RESERVE = (
    "UPDATE fixtures SET available = available - %(quantity)s::integer"
    " WHERE id = %(id)s::bigint AND available >= %(quantity)s::integer"
)
_PURCHASE_COLUMNS = tuple(column.name for column in t.purchases.columns)
_PG_ADD_PURCHASE = (
    f"INSERT INTO purchases ({', '.join(_PURCHASE_COLUMNS)})"  # noqa: S608
    f" VALUES ({', '.join(f'%({name})s' for name in _PURCHASE_COLUMNS)})"
    " ON CONFLICT (request_id) DO NOTHING"
)
_PG_DEBIT = (
    "WITH debit AS ("
    "UPDATE users SET wallet = wallet - %(amount)s::bigint"
    " WHERE id = %(user_id)s::varchar AND wallet >= %(amount)s::bigint RETURNING id)"
    " INSERT INTO ledger (user_id, amount, kind, reference, at)"
    " SELECT id, -%(amount)s::bigint, %(kind)s::varchar, %(reference)s::varchar,"
    " %(at)s::timestamptz FROM debit"
)
_PG_ADD_OUTBOX = (
    "INSERT INTO outbox (topic, payload) VALUES (%(topic)s::varchar, %(payload)s::text)"
)
# ... and those of another group's purchase arriving from the broker
_PG_REMEMBER = "INSERT INTO inbox (key) VALUES (%(key)s::varchar) ON CONFLICT DO NOTHING"
_PG_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%(key)s::text, 0))"
_PG_GET_PURCHASE = (
    f"SELECT {', '.join(_PURCHASE_COLUMNS)} FROM purchases"  # noqa: S608
    " WHERE request_id = %(rid)s::varchar"
)
_PG_TAKE_PARKED = (
    "DELETE FROM parked_validations WHERE request_id = %(rid)s::varchar"
    " RETURNING request_id, group_id, valid, seller"
)


def _aware(value: datetime | None) -> datetime | None:
    """A time for psycopg as ``UtcDateTime`` binds it: naive means UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _utc(value: datetime | None) -> datetime | None:
    """A ``timestamptz`` read by psycopg (in the session's zone) in UTC, as ``UtcDateTime``."""
    return value.astimezone(UTC) if value is not None else None


_FIXTURE_TIMES = ("kickoff", "updated_at")
_PURCHASE_TIMES = ("created_at", "updated_at")


def _prepared_row(
    tx: Transaction,
    sql: str,
    parameters: Mapping[str, Any],
    columns: Sequence[str],
    times: Sequence[str],
) -> SimpleNamespace | None:
    """The one row a prepared read finds, by column name, its ``times`` in UTC; or None."""
    values = tx.run(sql, parameters, writes=False).fetchone()
    return _named(values, columns, times) if values is not None else None


def _named(values: Sequence[Any], columns: Sequence[str], times: Sequence[str]) -> SimpleNamespace:
    """A row read by psycopg, by column name, its ``times`` in UTC."""
    row = SimpleNamespace(**dict(zip(columns, values, strict=True)))
    for name in times:
        setattr(row, name, _utc(getattr(row, name)))
    return row


@functools.cache
def _insert_new(dialect: str, table: sa.Table) -> Executable:
    """``INSERT ... ON CONFLICT (primary key) DO NOTHING``; its row count says if it went in."""
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = insert.on_conflict_do_nothing(index_elements=list(table.primary_key.columns))
    return statement.execution_options(preserve_rowcount=True)


@functools.cache
def _upsert_fixtures(dialect: str) -> Executable:
    """Insert fixtures, or update the broker's columns of known ones (never availability)."""
    insert = postgresql.insert(t.fixtures) if dialect == "postgresql" else sqlite.insert(t.fixtures)
    f = t.fixtures.c
    finished = _finished(f)
    values: dict[str, Any] = {name: insert.excluded[name] for name in _BROKER_COLUMNS}
    for name in _RESULT_COLUMNS:  # a late fixtures/info must not reopen a finished fixture
        values[name] = sa.case((finished, f[name]), else_=insert.excluded[name])
    return insert.on_conflict_do_update(
        index_elements=[f.id], set_={**values, "updated_at": insert.excluded.updated_at}
    )


_RESULT_COLUMNS = ("status", "status_long", "elapsed", "goals_home", "goals_away")


def _finished(f: Any) -> sa.ColumnElement[bool]:
    """The stored fixture has its final result: a finished status and both goals."""
    return sa.and_(
        # literal values: an expanding IN cannot run once per row of an executemany
        f.status.in_([sa.literal_column(f"'{status}'") for status in sorted(FINISHED_STATUSES)]),
        f.goals_home.is_not(None),
        f.goals_away.is_not(None),
    )


def _advisory_lock(tx: Transaction, key: str) -> None:
    """A PostgreSQL lock held until the transaction ends; SQLite writers already queue."""
    if tx.prepares:
        tx.run(_PG_LOCK, {"key": key})  # writes=True: it must be inside the transaction
    elif tx.dialect == "postgresql":
        # text(), not select(): a plain SELECT would run outside the transaction
        tx.execute(_LOCK, {"key": key})


def _insert(tx: Transaction, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that knows ON CONFLICT, in the dialect of the transaction.

    Its row count tells whether a row went in (by default SQLAlchemy keeps the row
    count of UPDATE and DELETE only).
    """
    insert = postgresql.insert(table) if tx.dialect == "postgresql" else sqlite.insert(table)
    return insert.execution_options(preserve_rowcount=True)


def _changed(result: CursorResult[Any]) -> bool:
    return bool(result.rowcount and result.rowcount > 0)


# -- fixtures ---------------------------------------------------------------------------

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


def _fixture(row: Row[Any] | SimpleNamespace) -> Fixture:
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
        if rows:
            # One cached statement executed for every row: psycopg pipelines them in one
            # round trip. (A single multi-row VALUES statement is compiled anew for every
            # message and measured 2-5 times slower.)
            self._tx.execute(_upsert_fixtures(self._tx.dialect), rows)

    def get(self, fixture_id: int) -> Fixture | None:
        """The fixture with its availability, or None."""
        if self._tx.prepares:
            row = _prepared_row(
                self._tx, _PG_GET_FIXTURE, {"id": fixture_id}, _FIXTURE_COLUMNS, _FIXTURE_TIMES
            )
            return _fixture(row) if row else None
        found = self._tx.execute(_GET_FIXTURE, {"fixture_id": fixture_id}).one_or_none()
        return _fixture(found) if found else None

    def get_many(self, fixture_ids: Collection[int]) -> dict[int, Fixture]:
        """The stored fixtures among ``fixture_ids``, by id, in one query."""
        if not fixture_ids:
            return {}
        ids = {"ids": list(fixture_ids)}
        if self._tx.prepares:
            cursor = self._tx.run(_PG_GET_FIXTURES, ids, writes=False)
            named = (_named(values, _FIXTURE_COLUMNS, _FIXTURE_TIMES) for values in cursor)
            return {row.id: _fixture(row) for row in named}
        return {row.id: _fixture(row) for row in self._tx.execute(_GET_FIXTURES, ids)}

    def page(self, query: FixtureQuery) -> tuple[list[Fixture], int]:
        """One page of fixtures by kick-off, and the total that match the query."""
        f = t.fixtures.c
        where: list[sa.ColumnElement[bool]] = []
        if query.filtered:
            where += [f.status.in_(_NOT_STARTED), f.kickoff > query.now]
            if query.home:
                where.append(f.home_search.contains(query.home.casefold(), autoescape=True))
            if query.away:
                where.append(f.away_search.contains(query.away.casefold(), autoescape=True))
            if query.date:
                where.append(f.kickoff_date == query.date)
        total = self._tx.execute(
            sa.select(sa.func.count()).select_from(t.fixtures).where(*where)
        ).scalar_one()
        rows = self._tx.execute(
            sa.select(t.fixtures)
            .where(*where)
            .order_by(f.kickoff, f.id)
            .limit(query.count)
            .offset(max(0, (query.page - 1) * query.count))
        )
        return [_fixture(row) for row in rows], total

    def upcoming(self, now: datetime) -> list[Fixture]:
        """Every fixture that has not started at ``now``, by kick-off."""
        f = t.fixtures.c
        rows = self._tx.execute(
            sa.select(t.fixtures)
            .where(f.status.in_(_NOT_STARTED), f.kickoff > now)
            .order_by(f.kickoff, f.id)
        )
        return [_fixture(row) for row in rows]

    def lock(self, fixture_id: int) -> None:
        """An advisory lock named after the fixture's result: the row stays free for buyers."""
        _advisory_lock(self._tx, f"fixture-result:{fixture_id}")

    def apply_result(self, result: MatchState, now: datetime) -> bool:
        """Record status and goals from fixtures/history; False if the fixture is unknown.

        The guard is in the statement: a late in-play result racing the final one must
        not reopen the fixture.
        """
        f = t.fixtures.c
        where = [f.id == result.fixture_id]
        if not result.is_final:
            where.append(sa.not_(_finished(f)))
        return _changed(
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

    def reserve(self, fixture_id: int, quantity: int) -> None:
        """Take exactly ``quantity`` bonds, or raise ``NotEnoughBonds`` (deferred).

        ``UPDATE ... SET available = available - :q WHERE id = :id AND available >= :q``:
        the row lock orders concurrent buyers and each re-checks the condition on the
        row as the one before left it.
        """
        if quantity <= 0:
            raise ValueError("a reservation must be positive")
        short = NotEnoughBonds(fixture_id, quantity)
        if self._tx.prepares:
            self._tx.defer(_PG_RESERVE, {"id": fixture_id, "quantity": quantity}, short)
        elif not self._take(fixture_id, quantity):
            raise short

    def _take(self, fixture_id: int, quantity: int) -> bool:
        if self._tx.prepares:
            cursor = self._tx.run(_PG_RESERVE, {"id": fixture_id, "quantity": quantity})
            return cursor.rowcount > 0
        return _changed(
            self._tx.execute(_RESERVE, {"fixture_id": fixture_id, "quantity": quantity})
        )

    def reserve_up_to(self, fixture_id: int, quantity: int) -> int:
        """Take as many of ``quantity`` bonds as are available; return how many were taken."""
        if quantity <= 0:
            return 0
        if self._take(fixture_id, quantity):
            return quantity
        f = t.fixtures.c
        # Fewer than asked: lock the row, then take what is left. FOR UPDATE is ignored
        # by SQLite, whose BEGIN IMMEDIATE already holds the only write lock.
        left = self._tx.execute(
            sa.select(f.available).where(f.id == fixture_id).with_for_update()
        ).scalar_one_or_none()
        if not left:
            return 0
        taken = min(left, quantity)
        self._tx.execute(
            sa.update(t.fixtures).where(f.id == fixture_id).values(available=f.available - taken)
        )
        return int(taken)

    def release(self, fixture_id: int, quantity: int) -> None:
        """Give ``quantity`` previously reserved bonds back."""
        if quantity <= 0:
            return
        f = t.fixtures.c
        self._tx.execute(
            sa.update(t.fixtures).where(f.id == fixture_id).values(available=f.available + quantity)
        )


# -- purchases --------------------------------------------------------------------------


def _purchase_values(p: Purchase) -> dict[str, Any]:
    return {
        "request_id": p.request_id,
        "group_id": p.group_id,
        "fixture_id": p.fixture_id,
        "league_name": p.league_name,
        "round": p.round,
        "date": p.date,
        "result": p.result.value,
        "quantity": p.quantity,
        "reserved": p.reserved,
        "wallet": p.wallet,
        "created_at": p.created_at,
        "status": p.status.value,
        "deposit_token": p.deposit_token,
        "seller": p.seller,
        "user_id": p.user_id,
        "payout": p.payout,
        "buy_order": p.buy_order,
        "payment_url": p.payment_url,
        "payment_outcome": p.payment_status.value if p.payment_status else None,
        "location": p.location,
        "updated_at": p.updated_at,
    }


def _prepared_values(purchase: Purchase) -> dict[str, Any]:
    """``_purchase_values`` with its times as psycopg binds them."""
    values = _purchase_values(purchase)
    values["created_at"] = _aware(purchase.created_at)
    values["updated_at"] = _aware(purchase.updated_at)
    return values


def _purchase(row: Row[Any] | SimpleNamespace) -> Purchase:
    return Purchase(
        request_id=row.request_id,
        group_id=row.group_id,
        fixture_id=row.fixture_id,
        league_name=row.league_name,
        round=row.round,
        date=row.date,
        result=Outcome(row.result),
        quantity=row.quantity,
        reserved=row.reserved,
        wallet=bool(row.wallet),
        created_at=row.created_at,
        status=PurchaseStatus(row.status),
        deposit_token=row.deposit_token,
        seller=row.seller,
        user_id=row.user_id,
        payout=row.payout,
        buy_order=row.buy_order,
        payment_url=row.payment_url,
        payment_status=PaymentStatus(row.payment_outcome) if row.payment_outcome else None,
        location=row.location,
        updated_at=row.updated_at,
    )


_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


class SqlPurchaseRepository:
    """``ports.PurchaseRepository`` on the ``purchases`` table."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def lock(self, request_id: str) -> None:
        """A transaction-scoped advisory lock on PostgreSQL; SQLite writers already queue."""
        _advisory_lock(self._tx, request_id)

    def add(self, purchase: Purchase) -> bool:
        """Insert the purchase; False (and no change) if its request_id is already known."""
        if self._tx.prepares:
            return self._tx.run(_PG_ADD_PURCHASE, _prepared_values(purchase)).rowcount > 0
        values = _purchase_values(purchase)
        return _changed(self._tx.execute(_insert_new(self._tx.dialect, t.purchases), values))

    def create(self, purchase: Purchase) -> None:
        """Insert a new purchase, or raise ``Conflict`` if its request_id is known (deferred)."""
        known = Conflict(f"purchase {purchase.request_id} exists already")
        if self._tx.prepares:
            self._tx.defer(_PG_ADD_PURCHASE, _prepared_values(purchase), known)
        elif not self.add(purchase):
            raise known

    def get(self, request_id: str) -> Purchase | None:
        """The purchase, or None."""
        if self._tx.prepares:
            found = _prepared_row(
                self._tx, _PG_GET_PURCHASE, {"rid": request_id}, _PURCHASE_COLUMNS, _PURCHASE_TIMES
            )
            return _purchase(found) if found else None
        row = self._tx.execute(_GET_PURCHASE, {"rid": request_id}).one_or_none()
        return _purchase(row) if row else None

    def find_by_payment(self, token: str | None, buy_order: str | None) -> Purchase | None:
        """Our purchase paid with this Webpay token, or else with this buy order."""
        p = t.purchases.c
        for column, value in ((p.deposit_token, token), (p.buy_order, buy_order)):
            if not value:
                continue
            row = self._tx.execute(
                sa.select(t.purchases)
                .where(column == value, p.user_id.is_not(None))
                .order_by(p.created_at, p.request_id)
                .limit(1)
            ).one_or_none()
            if row:
                return _purchase(row)
        return None

    def page_for_user(
        self, user_id: str | None, status: PurchaseStatus | None, page: int, count: int
    ) -> tuple[list[Purchase], int]:
        """A user's purchases newest first (every user's if ``user_id`` is None), and the total."""
        p = t.purchases.c
        where = [p.user_id.is_not(None) if user_id is None else p.user_id == user_id]
        if status is not None:
            where.append(p.status == status.value)
        total = self._tx.execute(
            sa.select(sa.func.count()).select_from(t.purchases).where(*where)
        ).scalar_one()
        rows = self._tx.execute(
            sa.select(t.purchases)
            .where(*where)
            .order_by(p.created_at.desc(), p.request_id.desc())
            .limit(count)
            .offset(max(0, (page - 1) * count))
        )
        return [_purchase(row) for row in rows], total

    def for_fixture(self, fixture_id: int, status: PurchaseStatus) -> list[Purchase]:
        """Purchases of a fixture in one status, oldest first."""
        p = t.purchases.c
        rows = self._tx.execute(
            sa.select(t.purchases)
            .where(p.fixture_id == fixture_id, p.status == status.value)
            .order_by(p.created_at, p.request_id)
        )
        return [_purchase(row) for row in rows]

    def won_by_user(self, user_id: str) -> list[Purchase]:
        """A user's won purchases, oldest first."""
        p = t.purchases.c
        rows = self._tx.execute(
            sa.select(t.purchases)
            .where(p.user_id == user_id, p.status == PurchaseStatus.WON.value)
            .order_by(p.created_at, p.request_id)
        )
        return [_purchase(row) for row in rows]

    def awaiting_payment(self, created_before: datetime, limit: int) -> list[Purchase]:
        """Our purchases still pending_payment made before a time, oldest first."""
        p = t.purchases.c
        rows = self._tx.execute(
            sa.select(t.purchases)
            .where(p.status == PurchaseStatus.PENDING_PAYMENT.value, p.created_at < created_before)
            .order_by(p.created_at, p.request_id)
            .limit(limit)
        )
        return [_purchase(row) for row in rows]

    def transition(
        self,
        request_id: str,
        allowed_from: Collection[PurchaseStatus],
        to: PurchaseStatus,
        now: datetime,
        *,
        payout: int | None = None,
        payment_status: PaymentStatus | None = None,
    ) -> bool:
        """Move the purchase to ``to`` only if its status is one of ``allowed_from``.

        ``UPDATE ... WHERE status IN (...)``: of concurrent callers, the first takes the
        row lock and the others re-check the status it left, so exactly one gets True.
        """
        if not allowed_from:
            return False
        parameters = {
            "rid": request_id,
            "allowed": sorted(s.value for s in allowed_from),
            "to": to.value,
            "now": now,
            "new_payout": payout,
            "new_outcome": payment_status.value if payment_status else None,
        }
        return _changed(self._tx.execute(_TRANSITION, parameters))


# -- users and wallets ------------------------------------------------------------------


class SqlUserRepository:
    """``ports.UserRepository`` on the ``users`` table (the balance lives there too)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def get_or_create(self, user_id: str, email: str | None, name: str | None) -> User:
        """The user, created with an empty wallet on first sight (safe under concurrency)."""
        self._tx.execute(
            _insert(self._tx, t.users)
            .values(id=user_id, email=email, name=name, wallet=0)
            .on_conflict_do_nothing(index_elements=[t.users.c.id])
        )
        user = self.get(user_id)
        assert user is not None  # just inserted, or already there
        return user

    def get(self, user_id: str) -> User | None:
        """The user with their balance, or None."""
        row = self._tx.execute(_GET_USER, {"user_id": user_id}).one_or_none()
        return User(row.id, row.email, row.name, row.wallet) if row else None


class SqlWalletRepository:
    """``ports.WalletRepository``: the balance column of ``users`` plus the ``ledger``."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def credit(
        self, user_id: str, amount: int, kind: LedgerKind, reference: str | None, now: datetime
    ) -> int:
        """Add ``amount`` > 0 to the wallet with a ledger entry; return the new balance.

        An unknown user is created with the amount, as the in-memory adapter does.
        """
        if amount <= 0:
            raise ValueError("a credit must be positive")
        insert = _insert(self._tx, t.users).values(id=user_id, wallet=amount)
        upsert = insert.on_conflict_do_update(
            index_elements=[t.users.c.id],
            set_={"wallet": t.users.c.wallet + insert.excluded.wallet},
        ).returning(t.users.c.wallet)
        balance = self._tx.execute(upsert).scalar_one()
        self._record(user_id, amount, kind, reference, now)
        return int(balance)

    def balances(self, user_ids: Collection[str]) -> dict[str, int]:
        """The balance of each of these users' wallets, by id, in one query."""
        ids = {"ids": list(user_ids)}
        if self._tx.prepares:
            rows = self._tx.run(_PG_BALANCES, ids, writes=False).fetchall()
        else:
            rows = [(row.id, row.wallet) for row in self._tx.execute(_BALANCES, ids)]
        return {user_id: int(wallet) for user_id, wallet in rows}

    def debit(
        self, user_id: str, amount: int, kind: LedgerKind, reference: str | None, now: datetime
    ) -> None:
        """Take ``amount`` > 0 if the balance covers it (atomic, never below zero), or raise
        ``NotEnoughMoney`` (deferred)."""
        if amount <= 0:
            raise ValueError("a debit must be positive")
        if self._tx.prepares:  # the debit and its ledger row in one statement
            parameters = {
                "user_id": user_id,
                "amount": amount,
                "kind": kind.value,
                "reference": reference,
                "at": _aware(now),
            }
            self._tx.defer(_PG_DEBIT, parameters, NotEnoughMoney(user_id, amount))
            return
        if not _changed(self._tx.execute(_DEBIT, {"user_id": user_id, "amount": amount})):
            raise NotEnoughMoney(user_id, amount)
        self._record(user_id, -amount, kind, reference, now)

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        """Every movement of the wallet, oldest first."""
        rows = self._tx.execute(
            sa.select(t.ledger).where(t.ledger.c.user_id == user_id).order_by(t.ledger.c.id)
        )
        return [
            LedgerEntry(row.user_id, row.amount, LedgerKind(row.kind), row.reference, row.at)
            for row in rows
        ]

    def _record(
        self, user_id: str, amount: int, kind: LedgerKind, reference: str | None, now: datetime
    ) -> None:
        self._tx.execute(
            _ADD_LEDGER,
            {
                "user_id": user_id,
                "amount": amount,
                "kind": kind.value,
                "reference": reference,
                "at": now,
            },
        )


# -- messages ---------------------------------------------------------------------------


class SqlOutbox:
    """``ports.Outbox`` on the ``outbox`` table."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def add(self, topic: str, payload: str) -> None:
        """Queue a message to publish after this unit of work commits."""
        parameters = {"topic": topic, "payload": payload}
        if self._tx.prepares:  # deferred: it cannot fail but for the database itself
            self._tx.defer(_PG_ADD_OUTBOX, parameters, Unavailable("the outbox took nothing"))
        else:
            self._tx.execute(_ADD_OUTBOX, parameters)

    def pending(self, limit: int) -> list[OutboxMessage]:
        """Unsent messages, oldest first."""
        o = t.outbox.c
        rows = self._tx.execute(
            sa.select(o.id, o.topic, o.payload)
            .where(o.sent_at.is_(None))
            .order_by(o.id)
            .limit(limit)
        )
        return [OutboxMessage(row.id, row.topic, row.payload) for row in rows]

    def mark_sent(self, ids: Collection[int]) -> None:
        """The broker acknowledged these; never hand them out again."""
        if not ids:
            return
        o = t.outbox.c
        self._tx.execute(
            sa.update(t.outbox)
            .where(o.id.in_(sorted(ids)), o.sent_at.is_(None))
            .values(sent_at=sa.func.now())
        )

    def backlog(self) -> int:
        """How many messages wait to be sent."""
        return int(
            self._tx.execute(
                sa.select(sa.func.count()).select_from(t.outbox).where(t.outbox.c.sent_at.is_(None))
            ).scalar_one()
        )


class SqlInbox:
    """``ports.Inbox``: a primary key per applied message."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def remember(self, key: str) -> bool:
        """Record that the message ``key`` is applied; False if it already was."""
        if self._tx.prepares:
            return self._tx.run(_PG_REMEMBER, {"key": key}).rowcount > 0
        return _changed(self._tx.execute(_insert_new(self._tx.dialect, t.inbox), {"key": key}))


class SqlParkedValidations:
    """``ports.ParkedValidations`` on the ``parked_validations`` table."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def park(self, message: ValidationMessage, now: datetime) -> None:
        """Keep a validation whose request has not arrived (the first one kept wins)."""
        self._tx.execute(
            _insert(self._tx, t.parked_validations)
            .values(
                request_id=message.request_id,
                group_id=message.group_id,
                valid=message.valid,
                seller=message.seller,
                parked_at=now,
            )
            .on_conflict_do_nothing(index_elements=[t.parked_validations.c.request_id])
        )

    def take(self, request_id: str) -> ValidationMessage | None:
        """Remove and return the validation parked for this request, if any."""
        if self._tx.prepares:
            taken = self._tx.run(_PG_TAKE_PARKED, {"rid": request_id}).fetchone()
            if taken is None:
                return None
            rid, group_id, valid, seller = taken
            return ValidationMessage(rid, group_id, bool(valid), seller)
        row = self._tx.execute(_TAKE_PARKED, {"rid": request_id}).one_or_none()
        if row is None:
            return None
        return ValidationMessage(row.request_id, row.group_id, bool(row.valid), row.seller)


class SqlDeadLetters:
    """``ports.DeadLetters`` on the ``dead_letters`` table."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def add(self, topic: str, payload: str, reason: str, now: datetime) -> None:
        """Keep a message that could not be applied, with why."""
        self._tx.execute(
            sa.insert(t.dead_letters).values(
                topic=topic, payload=payload, reason=reason, received_at=now
            )
        )

    def page(self, page: int, count: int) -> tuple[list[DeadLetter], int]:
        """Kept messages newest first, and how many there are."""
        d = t.dead_letters.c
        total = self._tx.execute(
            sa.select(sa.func.count()).select_from(t.dead_letters)
        ).scalar_one()
        rows = self._tx.execute(
            sa.select(t.dead_letters)
            .order_by(d.id.desc())
            .limit(count)
            .offset(max(0, (page - 1) * count))
        )
        return [
            DeadLetter(row.id, row.topic, row.payload, row.reason, row.received_at) for row in rows
        ], total


class SqlAuctions:
    """``ports.Auctions`` on the ``auctions`` table."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def add(self, payload: str, now: datetime) -> None:
        """Store a fixtures/auctions message as received."""
        self._tx.execute(sa.insert(t.auctions).values(payload=payload, received_at=now))


class SqlRecommendationRepository:
    """``ports.RecommendationRepository``: one row per user, the items as JSON."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def get(self, user_id: str) -> Recommendations | None:
        """The user's last computed recommendations, or None."""
        row = self._tx.execute(
            sa.select(t.recommendations).where(t.recommendations.c.user_id == user_id)
        ).one_or_none()
        if row is None:
            return None
        items = tuple(
            Recommendation(int(item["fixture_id"]), Decimal(item["pond"]))
            for item in json.loads(row.items)
        )
        return Recommendations(row.user_id, row.updated_at, items)

    def put(self, recommendations: Recommendations) -> None:
        """Replace the user's recommendations."""
        items = json.dumps(
            [{"fixture_id": r.fixture_id, "pond": str(r.pond)} for r in recommendations.items]
        )
        statement = _insert(self._tx, t.recommendations).values(
            user_id=recommendations.user_id, updated_at=recommendations.updated_at, items=items
        )
        self._tx.execute(
            statement.on_conflict_do_update(
                index_elements=[t.recommendations.c.user_id],
                set_={
                    "updated_at": statement.excluded["updated_at"],
                    "items": statement.excluded["items"],
                },
            )
        )
