"""Statements written once (``goat_adapters.sql.statements``) run alike on every path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import attrs
import pytest
import sqlalchemy as sa

from goat_adapters.sql import (
    SqlDatabase,
    fixtures,
    make_engine,
    messages,
    purchases,
    statements,
    users,
)
from goat_adapters.sql import tables as t
from goat_core.errors import InvalidInput
from goat_core.jobs import Recommend
from goat_core.model import FixtureStage, LedgerKind, PurchaseStatus
from goat_core.ports import FixtureQuery, Sale
from tests.contract.builders import fixture, purchase

NOW = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)


def test_every_statement_compiles_for_both_dialects_and_prepares_on_postgresql() -> None:
    """Each Statement of the adapter builds on SQLite and compiles to one preparable
    PostgreSQL statement (no expanding IN, whose text would change with the list)."""
    found = [
        value
        for module in (fixtures, purchases, users, messages, statements)
        for value in vars(module).values()
        if isinstance(value, statements.Statement)
    ]
    assert len(found) >= 15
    on_sqlite = sa.create_engine("sqlite://").dialect  # nothing connects
    on_postgresql = sa.create_engine("postgresql+psycopg://").dialect
    for statement in found:
        construct = statement.construct("sqlite")
        assert isinstance(construct, sa.ClauseElement)
        assert str(construct.compile(dialect=on_sqlite))
        assert statement.prepared(on_postgresql).sql


@pytest.mark.integration
def test_times_come_back_in_utc_whatever_the_database_zone(fresh_database_url: str) -> None:
    """On a PostgreSQL database set to another time zone, goat's sessions are in UTC, and
    times read by prepared statements and by SQLAlchemy alike are the same instants."""
    engine = make_engine(fresh_database_url)
    with engine.begin() as connection:
        name = fresh_database_url.rsplit("/", 1)[1]
        connection.exec_driver_sql(f"ALTER DATABASE \"{name}\" SET timezone = 'America/Santiago'")
    engine.dispose()
    database = SqlDatabase(fresh_database_url)
    later = NOW + timedelta(hours=5)
    with database.unit_of_work() as uow:
        assert uow.dialect == "postgresql"
        zone = uow.execute(sa.text("SHOW timezone")).scalar_one()
        uow.fixtures.upsert_many([fixture(1)], 40, NOW)
        assert uow.purchases.add(purchase("r1", created_at=NOW))
        uow.purchases.transition("r1", {PurchaseStatus.PENDING}, PurchaseStatus.ACCEPTED, later)
        uow.wallets.credit("alice", 100, LedgerKind.TOP_UP, None, later)
        uow.commit()
    with database.unit_of_work() as uow:
        stored_fixture = uow.fixtures.get(1)  # a prepared statement
        stored_purchase = uow.purchases.get("r1")
        listed = uow.fixtures.page(FixtureQuery(now=NOW))[0][0]  # through SQLAlchemy
        entries = uow.wallets.ledger("alice")
    database.dispose()
    assert zone == "UTC"  # the database says America/Santiago
    assert stored_fixture is not None
    assert stored_purchase is not None
    times = [
        (stored_fixture.kickoff, fixture(1).kickoff),
        (stored_fixture.updated_at, NOW),
        (listed.kickoff, fixture(1).kickoff),
        (stored_purchase.created_at, NOW),
        (stored_purchase.updated_at, later),
        (entries[0].at, later),
    ]
    for read, written in times:
        assert read is not None
        assert (read, read.tzinfo) == (written, UTC)


def test_a_first_page_or_a_page_of_one_stage_is_one_statement(sqlite_url: str) -> None:
    """Its rows carry the counts its total needs; a later page of the whole list reads the
    counts first, to know where it starts (in the upcoming fixtures or in the rest)."""
    database = SqlDatabase(sqlite_url)
    upcoming = [fixture(n, kickoff=NOW + timedelta(days=n)) for n in range(1, 4)]
    with database.unit_of_work() as uow:
        uow.fixtures.upsert_many(upcoming, 40, NOW)
        uow.commit()
    sent: list[str] = []
    sa.event.listen(database.engine, "before_cursor_execute", lambda *a: sent.append(a[2]))

    def statements_for(**query: object) -> int:
        sent.clear()
        with database.unit_of_work() as uow:
            uow.fixtures.page(FixtureQuery(now=NOW, **query))  # type: ignore[arg-type]
        return len([sql for sql in sent if sql.lstrip().upper().startswith("SELECT")])

    assert statements_for() == 1
    assert statements_for(stage=FixtureStage.UPCOMING) == 1
    assert statements_for(stage=FixtureStage.FINISHED) == 2  # no rows: counted alone
    assert statements_for(page=2, count=2) == 2
    database.dispose()


@pytest.mark.integration
def test_prepared_statements_are_planned_once(fresh_database_url: str) -> None:
    """goat's PostgreSQL sessions use generic plans: with LIMIT and OFFSET as parameters,
    PostgreSQL found a page's generic plan dearer than a planned one and planned the
    finished fixtures' page again at every execution (0.3 ms of its CPU each time)."""
    database = SqlDatabase(fresh_database_url)
    try:
        with database.unit_of_work() as uow:
            mode = uow.execute(sa.text("SHOW plan_cache_mode")).scalar_one()
        assert mode == "force_generic_plan"
    finally:
        database.dispose()


@pytest.mark.integration
def test_a_many_row_insert_refuses_a_value_too_long_for_its_column(
    fresh_database_url: str,
) -> None:
    """Peers' purchases go in as one unnest statement on PostgreSQL: a request id longer
    than its column is refused, as a one-row insert refuses it, never cut to fit (two ids
    alike in their first 200 characters would then be one)."""
    database = SqlDatabase(fresh_database_url)
    try:
        with database.unit_of_work() as uow, pytest.raises(InvalidInput):
            uow.purchases.add_many([purchase("x" * 201, user_id=None, group_id="6")])
        with database.unit_of_work() as uow:
            assert uow.purchases.known(["x" * 200, "x" * 201]) == set()
    finally:
        database.dispose()


@pytest.mark.integration
def test_a_list_of_ids_matches_no_id_it_does_not_hold(fresh_database_url: str) -> None:
    """An id longer than its column matches nothing: cast to the column's VARCHAR(200), it
    was cut to 200 characters and matched the id that is its first 200."""
    database = SqlDatabase(fresh_database_url)
    user = "u" * 200
    try:
        with database.unit_of_work() as uow:
            uow.wallets.credit(user, 1000, LedgerKind.TOP_UP, None, NOW)
            uow.commit()
        with database.unit_of_work() as uow:
            assert uow.wallets.balances({user + "x"}) == {}
            assert uow.wallets.balances({user}) == {user: 1000}
    finally:
        database.dispose()


@pytest.mark.integration
def test_a_lot_sent_in_binary_comes_back_exactly(fresh_database_url: str) -> None:
    """A lot's purchases, announcements and jobs go in as unnest lists sent in binary:
    text with quotes, backslashes, braces and the word NULL, a column that is None in every
    row, ints of every size and times keep their exact values."""
    awkward = 'a "quoted" \\ {braces}, NULL; ñandú ⚽'
    lot = [
        attrs.evolve(
            purchase(f"r{i}", user_id=f"{awkward} {i}", buy_order=None),
            league_name=awkward,
            location=None,
            seller=seller,
            created_at=NOW + timedelta(microseconds=i),
        )
        for i, seller in enumerate((0, 15, 2**31 - 1))
    ]
    announcements = [json.dumps({"request_id": p.request_id, "league": awkward}) for p in lot]
    database = SqlDatabase(fresh_database_url)
    try:
        with database.unit_of_work() as uow:
            uow.fixtures.upsert_many([fixture(1)], 40, NOW)
            uow.commit()
        with database.unit_of_work() as uow:
            sales = [Sale(p, 0, text) for p, text in zip(lot, announcements, strict=True)]
            uow.sales.record(sales, NOW, [Recommend(p.user_id or "") for p in lot])
            uow.commit()
        with database.unit_of_work() as uow:
            assert [uow.purchases.get(p.request_id) for p in lot] == lot
            assert [m.payload for m in uow.outbox.pending(10)] == announcements
            assert [pending.job for pending in uow.jobs.pending(10)] == [
                Recommend(p.user_id or "") for p in lot
            ]
    finally:
        database.dispose()


@pytest.mark.integration
def test_a_lots_ledger_rows_follow_its_sales_whatever_the_join(fresh_database_url: str) -> None:
    """A lot's debits are one statement: its ledger rows still go in the order of the sales,
    across buyers, when PostgreSQL joins the debited wallets back to the sales otherwise
    than by hashing them (the ``ORDER BY`` of ``goat_sell_lot``'s debits, migration 0012)."""
    database = SqlDatabase(fresh_database_url)
    users = [f"user-{i:02}" for i in range(40)]
    with database.unit_of_work() as uow:
        uow.fixtures.upsert_many([fixture(1)], 1000, NOW)
        for user in users:
            uow.wallets.credit(user, 10_000, LedgerKind.TOP_UP, None, NOW)
        uow.commit()
    sales = [
        Sale(purchase(f"r{i:02}", user_id=users[(i * 7) % 40], quantity=1), 1000, "{}")
        for i in range(80)
    ]
    try:
        with database.unit_of_work() as uow:
            uow.execute(sa.text("SET LOCAL enable_hashjoin = off"))
            uow.sales.record(sales, NOW)
            uow.commit()
        with database.engine.connect() as connection:
            query = (
                sa.select(t.ledger.c.reference)
                .where(t.ledger.c.kind == LedgerKind.PURCHASE.value)
                .order_by(t.ledger.c.id)
            )
            written = list(connection.execute(query).scalars())
    finally:
        database.dispose()
    assert written == [sale.purchase.request_id for sale in sales]
