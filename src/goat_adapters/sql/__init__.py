"""Persistence on PostgreSQL (psycopg 3) and SQLite, with SQLAlchemy Core.

::

    database = SqlDatabase("postgresql://goat@127.0.0.1/goat", lock_timeout_ms=2000)
    upgrade(database.url)                        # Alembic migrations shipped here
    exchange = Exchange(uow=database.unit_of_work, ...)

Every repository method is one statement (or a few) in the unit of work's transaction;
reservations, wallet debits, status transitions and the inbox are conditional single
statements, so concurrency can neither oversell nor apply an effect twice. The sale hot
path (``SqlSaleLedger``) sends a whole lot of purchases at once; ``SqlAsyncSaleLedger``
does the same from an event loop (``Exchange(async_sales=SqlAsyncSaleLedger(database))``).
Statements that run often are written once (``statements.Statement``) and run prepared on
PostgreSQL. Driver errors leave as ``goat_core.errors``: ``Busy`` for a lock not granted
in time (retry), ``Unavailable`` for a database that cannot be used.
"""

from __future__ import annotations

from goat_adapters.sql.async_sales import SqlAsyncSaleLedger
from goat_adapters.sql.database import SqlDatabase, SqlUnitOfWork
from goat_adapters.sql.engines import database_url, make_engine
from goat_adapters.sql.errors import translate
from goat_adapters.sql.fixtures import SqlFixtureRepository
from goat_adapters.sql.jobs import SqlJobOutbox
from goat_adapters.sql.lease import JOB_LEASE_KEY, SqlOutboxLease
from goat_adapters.sql.messages import (
    SqlAuctions,
    SqlDeadLetters,
    SqlInbox,
    SqlOutbox,
    SqlParkedValidations,
)
from goat_adapters.sql.migrations import upgrade
from goat_adapters.sql.parked import SqlParkedRequests
from goat_adapters.sql.purchases import SqlPurchaseRepository
from goat_adapters.sql.sales import SqlSaleLedger
from goat_adapters.sql.users import (
    SqlRecommendationRepository,
    SqlUserRepository,
    SqlWalletRepository,
)

__all__ = [
    "JOB_LEASE_KEY",
    "SqlAsyncSaleLedger",
    "SqlAuctions",
    "SqlDatabase",
    "SqlDeadLetters",
    "SqlFixtureRepository",
    "SqlInbox",
    "SqlJobOutbox",
    "SqlOutbox",
    "SqlOutboxLease",
    "SqlParkedRequests",
    "SqlParkedValidations",
    "SqlPurchaseRepository",
    "SqlRecommendationRepository",
    "SqlSaleLedger",
    "SqlUnitOfWork",
    "SqlUserRepository",
    "SqlWalletRepository",
    "database_url",
    "make_engine",
    "translate",
    "upgrade",
]
