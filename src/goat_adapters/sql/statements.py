"""SQL statements written once, and what a repository needs to run them.

A statement that runs often is a ``Statement``: a SQLAlchemy Core construct, built once
per dialect. The unit of work runs it the fastest way its dialect allows (``run``,
``run_many``): on SQLite through SQLAlchemy, which caches the compiled form; on
PostgreSQL compiled once to psycopg's SQL and executed straight on psycopg as a
server-side prepared statement, since SQLAlchemy's execution layer costs as much CPU per
statement as psycopg itself. SQLAlchemy's psycopg dialect casts every parameter
(``%(id)s::BIGINT``), so a prepared statement's types never depend on the values, and the
column types' own bind and result processors are applied on that path too: a
``UtcDateTime`` converts exactly as it does through SQLAlchemy.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from goat_core.errors import GoatError

__all__ = [
    "Batch",
    "Parameters",
    "Prepared",
    "Ran",
    "Statement",
    "Transaction",
    "advisory_lock",
    "advisory_locks",
    "changed",
    "dialect_insert",
    "insert_new",
    "lists",
    "mark_sent",
    "one_of",
    "unnest_insert",
    "unsent",
    "writes",
]

Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
_BOUND_AS_TEXT = re.compile(r"%\((\w+)\)s")  # psycopg's placeholder for a value of any format
Processor = Callable[[Any], Any]


class Statement:
    """One SQL statement, built once per dialect.

    ``construct`` is the SQLAlchemy construct, or a function of the dialect's name that
    builds it (for what dialects spell differently: ``dialect_insert``, ``one_of``).
    ``writes`` says whether it must run inside the transaction; by default, unless it
    is a plain SELECT. ``binary`` sends its values to psycopg in binary (``unnest_insert``'s
    lists: psycopg escapes each text element of a list it sends as text, in Python).
    """

    def __init__(
        self,
        construct: Executable | Callable[[str], Executable],
        *,
        writes: bool | None = None,
        binary: bool = False,
    ) -> None:
        self._build = construct if callable(construct) else (lambda _: construct)
        self._writes = writes
        self._binary = binary
        self._constructs: dict[str, Executable] = {}
        self._prepared: dict[str, Prepared] = {}

    def construct(self, dialect: str) -> Executable:
        """The construct for a dialect; its row count is kept even for an INSERT."""
        found = self._constructs.get(dialect)
        if found is None:
            built = self._build(dialect).execution_options(preserve_rowcount=True)
            found = self._constructs[dialect] = built
        return found

    def prepared(self, dialect: Dialect) -> Prepared:
        """The statement compiled for psycopg (PostgreSQL), once."""
        found = self._prepared.get(dialect.name)
        if found is None:
            construct = self.construct(dialect.name)
            wrote = writes(construct) if self._writes is None else self._writes
            found = Prepared.compile(construct, dialect, wrote)
            if self._binary:
                found = attrs.evolve(found, sql=_BOUND_AS_TEXT.sub(r"%(\1)b", found.sql))
            self._prepared[dialect.name] = found
        return found


@attrs.frozen
class Prepared:
    """A statement as psycopg runs it: SQL text, and how values convert in and out."""

    sql: str
    writes: bool
    defaults: dict[str, Any]
    """Values the construct itself holds (a literal ``0`` becomes a parameter)."""
    binds: tuple[tuple[str, Processor], ...]
    results: tuple[tuple[int, Processor], ...]
    row: Callable[[Iterable[Any]], Any] | None
    """Makes a row whose values are read by column name, as a SQLAlchemy ``Row``; None
    for a statement that returns no rows."""

    @classmethod
    def compile(cls, construct: Executable, dialect: Dialect, writes: bool) -> Prepared:
        assert isinstance(construct, ClauseElement)
        compiled = construct.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError(f"not preparable, an expanding IN (use one_of): {compiled.string}")
        binds: dict[str, Processor] = {}  # by name: a parameter may be used twice
        defaults: dict[str, Any] = {}
        for bind, name in compiled.bind_names.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                binds[name] = process
            if not bind.required:
                defaults[name] = bind.effective_value
        columns = list(getattr(construct, "exported_columns", ()))
        results = []
        for index, column in enumerate(columns):
            process = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if process is not None:
                results.append((index, process))
        row = None
        if columns:
            names = [column.key for column in columns]
            row_type: Any = collections.namedtuple("row", names, rename=True)  # type: ignore[misc]
            row = row_type._make
        return cls(compiled.string, writes, defaults, tuple(binds.items()), tuple(results), row)

    def parameters(self, given: Mapping[str, Any]) -> Mapping[str, Any]:
        """The values to send for ``given``, converted as their columns' types say."""
        if not self.binds and not self.defaults:
            return given
        values = {**self.defaults, **given}
        for name, process in self.binds:
            if name in values:
                values[name] = process(values[name])
        return values

    def rows(self, fetched: Iterable[Sequence[Any]]) -> list[Any]:
        """The rows psycopg fetched, converted as their columns' types say."""
        make = self.row
        assert make is not None, "the statement returns no rows"
        if not self.results:
            return [make(values) for values in fetched]
        rows = []
        for values in fetched:
            converted = list(values)
            for index, process in self.results:
                converted[index] = process(converted[index])
            rows.append(make(converted))
        return rows


class Ran(NamedTuple):
    """What a statement did: the rows it returned, and how many rows it changed."""

    rows: list[Any]
    rowcount: int

    def first(self) -> Any | None:
        return self.rows[0] if self.rows else None


@attrs.frozen
class Batch:
    """One statement for several parameter sets, sent together by ``run_many``.

    ``short(i)`` is the error to raise when the statement changes fewer rows than it was
    given parameter sets (``i``: the set that changed nothing, where the dialect can
    tell; else the first); None when any row count will do.
    """

    statement: Statement
    parameters: Sequence[Mapping[str, Any]]
    short: Callable[[int], GoatError] | None = None
    together: Statement | None = None
    """On PostgreSQL, one statement for every set instead (an ``unnest_insert`` of the
    same rows, its parameters the sets as ``lists``): its row count is the same total."""


class Transaction(Protocol):
    """What a repository needs of its unit of work: a dialect and ways to run SQL."""

    @property
    def dialect(self) -> str: ...

    def execute(self, statement: Executable, parameters: Parameters = None) -> CursorResult[Any]:
        """Run a statement made for this call through SQLAlchemy."""

    def run(self, statement: Statement, parameters: Mapping[str, Any]) -> Ran:
        """Run a ``Statement`` the fastest way (prepared on PostgreSQL)."""

    def rollback(self) -> None:
        """Forget every change of the transaction."""

    def run_many(self, batches: Sequence[Batch]) -> None:
        """Run each batch's statement for all its sets, all at once, in order.

        On a short row count (or any failure) the transaction is rolled back before the
        error is raised: nothing of it can be committed after.
        """


def writes(statement: Executable) -> bool:
    """Whether a statement changes rows or locks them (SELECT ... FOR UPDATE)."""
    if isinstance(statement, sa.Select):
        return getattr(statement, "_for_update_arg", None) is not None
    return True


def changed(result: CursorResult[Any]) -> bool:
    return bool(result.rowcount and result.rowcount > 0)


def insert_new(table: sa.Table, *conflict: sa.Column[Any]) -> Statement:
    """An INSERT of every column (a parameter each, named as the column) that skips a row
    in conflict on ``conflict``'s unique index (on any unique index if none is named): the
    row count (0 or 1) says which."""
    return Statement(
        lambda dialect: (
            dialect_insert(dialect, table)
            .values({column.name: sa.bindparam(column.name) for column in table.columns})
            .on_conflict_do_nothing(index_elements=list(conflict) or None)
        )
    )


def unsent(table: sa.Table, *columns: sa.Column[Any]) -> Statement:
    """``columns`` of an outbox table's rows not sent yet (``sent_at`` null), oldest
    (lowest ``id``) first, at most ``limit``."""
    return Statement(
        sa.select(*columns)
        .where(table.c.sent_at.is_(None))
        .order_by(table.c.id)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )


def mark_sent(table: sa.Table) -> Statement:
    """Mark the rows ``ids`` of an outbox table sent now (those not sent already)."""
    return Statement(
        lambda dialect: (
            sa.update(table)
            .where(one_of(dialect, table.c.id, "ids"), table.c.sent_at.is_(None))
            .values(sent_at=sa.func.now())
        )
    )


def dialect_insert(dialect: str, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that knows ON CONFLICT, in the dialect's own construct."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def one_of(dialect: str, column: sa.ColumnElement[Any], name: str) -> sa.ColumnElement[bool]:
    """``column`` is in the list parameter ``name``: ``= ANY(:name)`` on PostgreSQL, where
    one prepared statement takes a list of any length; an expanding IN elsewhere."""
    if dialect == "postgresql":
        # text as TEXT: a cast to VARCHAR(n) would cut a longer value to one that matches
        kind = sa.Text() if isinstance(column.type, sa.String) else column.type
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(kind)))
    return column.in_(sa.bindparam(name, expanding=True))


def unnest_insert(
    table: sa.Table,
    conflict: str | None = None,
    returning: str | None = None,
    columns: Sequence[str] = (),
) -> Statement:
    """PostgreSQL: insert many rows in one statement, a list parameter per column (named as
    the column; ``columns``, by default every one), skipping those whose ``conflict``
    column is known; with ``returning``, the rows return that column of each row
    inserted. Rows go in in the lists' order. One prepared statement for any number of
    rows, where an ``executemany`` costs psycopg's Python per row and the server a
    statement each."""
    dialect = PGDialect_psycopg()  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy
    chosen = [table.c[name] for name in columns] or list(table.columns)
    names = [column.name for column in chosen]

    def array(column: sa.Column[Any]) -> str:
        # text as TEXT: a cast to VARCHAR(n) would cut a longer value, which the insert
        # into the column refuses
        kind = "TEXT" if isinstance(column.type, sa.String) else column.type.compile(dialect)
        return f"CAST(:{column.name} AS {kind}[])"

    arrays = ", ".join(array(column) for column in chosen)
    # table and column names from the schema, never input
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays})"  # noqa: S608
    if conflict is not None:
        sql += f" ON CONFLICT ({conflict}) DO NOTHING"
    if returning is None:
        return Statement(sa.text(sql), writes=True, binary=True)
    sql += f" RETURNING {returning}"
    kept = table.c[returning]
    returned = sa.text(sql).columns(sa.column(returning, kept.type))
    return Statement(returned, writes=True, binary=True)


def lists(rows: Sequence[Mapping[str, Any]], names: Iterable[str]) -> dict[str, list[Any]]:
    """Rows (a dict each) as one list per name: the parameters of ``unnest_insert``."""
    return {name: [row[name] for row in rows] for name in names}


# a lock held until the transaction ends; it must run inside the transaction
_LOCK = Statement(
    sa.select(
        sa.func.pg_advisory_xact_lock(
            sa.func.hashtextextended(sa.bindparam("key", type_=sa.Text), 0)
        )
    ),
    writes=True,
)


# unnest keeps the array's order: the locks are taken in the order given
_LOCK_SHARED = Statement(
    sa.select(
        sa.func.pg_advisory_xact_lock_shared(
            sa.func.hashtextextended(sa.bindparam("key", type_=sa.Text), 0)
        )
    ),
    writes=True,
)

_LOCK_MANY = Statement(
    sa.text(
        "SELECT count(*) FROM (SELECT pg_advisory_xact_lock(hashtextextended(key, 0))"
        " FROM unnest(CAST(:keys AS TEXT[])) AS key) AS locked"
    ).columns(sa.column("count", sa.Integer)),
    writes=True,
)


def advisory_lock(tx: Transaction, key: str, *, shared: bool = False) -> None:
    """A PostgreSQL lock on ``key`` until the transaction ends (``shared``: held with other
    shared holders, never with an exclusive one); SQLite writers already queue."""
    if tx.dialect == "postgresql":
        tx.run(_LOCK_SHARED if shared else _LOCK, {"key": key})


def advisory_locks(tx: Transaction, keys: Iterable[str]) -> None:
    """``advisory_lock`` on each key, in sorted order (two callers never deadlock), in one
    statement."""
    if tx.dialect == "postgresql":
        tx.run(_LOCK_MANY, {"keys": sorted(set(keys))})
