"""``ports.SaleLedger``: a lot of our users' purchases written at once.

A lot is five statements, each run for all its sales (``Transaction.run_many``: on
PostgreSQL all in one psycopg pipeline, one round trip): the purchase inserts, the wallet
debits with their ledger rows, the outbox rows, the lot's jobs (the job outbox), and one
reservation per fixture. On PostgreSQL the purchases, the debits, the outbox rows and the
jobs go in as one ``unnest`` statement each, their lists sent in binary (as text, psycopg
escaped each element in Python, and the purchases' ``unnest`` cost more than their
``executemany``); each wallet is debited once for its sales' total (``DEBITS_AND_RECORDS``;
an ``executemany`` of 31 debits was a quarter of a lot's CPU, ``benchmarks/README.md``).

Every check is in its statement (``ON CONFLICT DO NOTHING``, ``WHERE wallet >= :amount``,
``WHERE available >= :quantity``), and a row count short of the sales raises the matching
error after rolling back.

Locks are taken in a fixed order, so that two lots never deadlock: the buyers' ``users``
rows by user id (on PostgreSQL the purchases' trigger locks them first, migration 0011,
so the debits find them locked already, but for a buyer whose purchase was skipped as
known, and then the lot fails with ``Conflict``; on SQLite writers queue), then the
fixtures, the hottest rows, last and by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from goat_adapters.sql.fixtures import RESERVE
from goat_adapters.sql.jobs import ADD_JOB, ADD_JOBS, job_values
from goat_adapters.sql.messages import ADD_OUTBOX, ADD_OUTBOX_MANY
from goat_adapters.sql.purchases import ADD_PURCHASE, ADD_PURCHASES, purchase_values
from goat_adapters.sql.statements import Batch, Transaction
from goat_adapters.sql.users import (
    ADD_LEDGER,
    DEBIT,
    DEBIT_AND_RECORD,
    DEBITS_AND_RECORDS,
    ledger_values,
)
from goat_core.errors import Conflict, NotEnoughBonds, NotEnoughMoney
from goat_core.jobs import Job
from goat_core.model import LedgerKind
from goat_core.ports import Sale
from goat_core.wire import TOPIC_REQUESTS

__all__ = ["SqlSaleLedger", "sale_batches"]


class SqlSaleLedger:
    """``ports.SaleLedger``: every write of a lot sent together."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def record(self, sales: Sequence[Sale], now: datetime, jobs: Sequence[Job] = ()) -> None:
        """Write every sale of the lot in this unit of work, all or nothing.

        Raises ``Conflict``, ``NotEnoughMoney`` or ``NotEnoughBonds``, the unit of work
        rolled back. On PostgreSQL the error names the first sale of the statement that
        fell short (a row count is a statement's total); on SQLite the sale itself.
        """
        if sales:
            self._tx.run_many(sale_batches(sales, now, jobs, self._tx.dialect))


def sale_batches(
    sales: Sequence[Sale], now: datetime, jobs: Sequence[Job], dialect: str
) -> list[Batch]:
    """The statements of a lot (see the module's docstring), in the order they run."""
    wanted: dict[int, int] = {}
    for sale in sales:
        fixture_id = sale.purchase.fixture_id
        wanted[fixture_id] = wanted.get(fixture_id, 0) + sale.purchase.quantity
    return [
        _purchases(sales),
        *_debits([sale for sale in sales if sale.debit], now, dialect),
        Batch(
            ADD_OUTBOX,
            [{"topic": TOPIC_REQUESTS, "payload": s.announcement} for s in sales],
            together=ADD_OUTBOX_MANY,
        ),
        Batch(ADD_JOB, [job_values(job) for job in jobs], together=ADD_JOBS),
        _reservations(sorted(wanted.items())),
    ]


def _purchases(sales: Sequence[Sale]) -> Batch:
    def known(index: int) -> Conflict:
        return Conflict(f"purchase {sales[index].purchase.request_id} exists already")

    values = [purchase_values(sale.purchase) for sale in sales]
    return Batch(ADD_PURCHASE, values, known, together=ADD_PURCHASES)


def _debits(paying: Sequence[Sale], now: datetime, dialect: str) -> list[Batch]:
    def broke(index: int) -> NotEnoughMoney:
        return NotEnoughMoney(paying[index].purchase.user_id or "", paying[index].debit)

    # PostgreSQL takes the money and writes its ledger row in one statement (a writable
    # CTE, which negates the amount); SQLite takes two
    together = dialect == "postgresql"
    entries = [
        ledger_values(
            sale.purchase.user_id or "",
            sale.debit if together else -sale.debit,
            LedgerKind.PURCHASE,
            sale.purchase.request_id,
            now,
        )
        for sale in paying
    ]
    if together:
        return [Batch(DEBIT_AND_RECORD, entries, broke, together=DEBITS_AND_RECORDS)]
    debits = [{"user_id": s.purchase.user_id or "", "amount": s.debit} for s in paying]
    return [Batch(DEBIT, debits, broke), Batch(ADD_LEDGER, entries)]


def _reservations(wanted: Sequence[tuple[int, int]]) -> Batch:
    """One reservation per fixture for the lot's total, by fixture id."""

    def short(index: int) -> NotEnoughBonds:
        return NotEnoughBonds(*wanted[index])

    parameters = [{"fixture_id": fixture, "quantity": quantity} for fixture, quantity in wanted]
    return Batch(RESERVE, parameters, short)
