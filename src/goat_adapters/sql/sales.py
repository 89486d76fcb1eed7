"""``ports.SaleLedger``: a lot of our users' purchases written at once.

On PostgreSQL a lot is one call, ``SELECT goat_sell_lot(...)`` (migration 0012), given
one JSON array of rows per part: the purchases, the wallet debits with their ledger
rows (each wallet debited once for its sales' total), the outbox rows, the lot's jobs
(the job outbox), and one reservation per fixture. One command and one round trip: from
the API's event loop, five statements in a pipeline cost each two turns of the loop,
each behind the requests the loop was answering (``benchmarks/README.md``, session 12).
A check that falls short raises ``GL001`` in the function, and ``Lot.refusal`` turns it
into the error to raise. On SQLite a lot is the same writes as statements of one row
each (``sale_batches``), checked one by one.

Every check is in its statement (``ON CONFLICT DO NOTHING``, ``WHERE wallet >= amount``,
``WHERE available >= quantity``); a lot that falls short raises the matching error with
nothing of it kept.

Locks are taken in a fixed order, so that two lots never deadlock: the buyers' ``users``
rows by user id (on PostgreSQL the purchases' trigger locks them first, migration 0011,
so the debits find them locked already, but for a buyer whose purchase was skipped as
known, and then the lot fails with ``Conflict``; on SQLite writers queue), then the
fixtures, the hottest rows, last and by id.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
import psycopg
import sqlalchemy as sa

from goat_adapters.sql.fixtures import RESERVE
from goat_adapters.sql.jobs import ADD_JOB, job_values
from goat_adapters.sql.messages import ADD_OUTBOX
from goat_adapters.sql.purchases import ADD_PURCHASE, purchase_values
from goat_adapters.sql.statements import Batch, Statement, Transaction
from goat_adapters.sql.users import ADD_LEDGER, DEBIT, ledger_values
from goat_core.errors import Conflict, GoatError, NotEnoughBonds, NotEnoughMoney
from goat_core.jobs import Job
from goat_core.model import LedgerKind
from goat_core.ports import Sale
from goat_core.wire import TOPIC_REQUESTS

__all__ = ["FELL_SHORT", "SELL_LOT", "Lot", "SqlSaleLedger", "sale_batches"]

FELL_SHORT = "GL001"
"""The SQLSTATE ``goat_sell_lot`` raises when a check falls short."""

_JSON = msgspec.json.Encoder()
SELL_LOT = Statement(
    sa.text(
        "SELECT goat_sell_lot(purchases => CAST(:purchases AS JSON),"
        " debits => CAST(:debits AS JSON), announcements => CAST(:announcements AS JSON),"
        " jobs => CAST(:jobs AS JSON), bonds => CAST(:bonds AS JSON))"
    ),
    writes=True,
)
"""A lot on PostgreSQL: ``Lot.parameters`` for ``goat_sell_lot`` (migration 0012)."""


class Lot:
    """A lot of sales as ``goat_sell_lot`` is given it, and the error it may raise.

    Each part of the lot goes as one JSON array of rows named as their columns, encoded
    by msgspec (timestamps in RFC 3339, which PostgreSQL reads): 0.01 ms for 30
    purchases, where the standard library's ``json`` took 0.13 ms and psycopg's dumping
    of a list per column (element by element, in Python) about 0.3.
    """

    def __init__(self, sales: Sequence[Sale], now: datetime, jobs: Sequence[Job]) -> None:
        self._sales = sales
        self._paying = [sale for sale in sales if sale.debit]
        self._wanted = _wanted(sales)
        parts = _rows(sales, jobs, self._wanted)
        parts["debits"] = [_debit(sale, now) for sale in self._paying]
        self.parameters = {name: _JSON.encode(rows).decode() for name, rows in parts.items()}

    def refusal(self, error: BaseException | None) -> GoatError | None:
        """The error for a check of the lot that fell short, if ``error`` is one (else None):
        ``Conflict`` or ``NotEnoughMoney`` naming the statement's first sale,
        ``NotEnoughBonds`` naming the fixture and the lot's total of it."""
        if not isinstance(error, psycopg.Error) or error.sqlstate != FELL_SHORT:
            return None
        check, _, index = (error.diag.message_detail or "").partition(" ")
        if check == "purchases" and self._sales:
            return _known(self._sales, 0)
        if check == "debits" and self._paying:
            return _broke(self._paying, 0)
        if check == "bonds" and index.isdigit() and int(index) < len(self._wanted):
            return NotEnoughBonds(*self._wanted[int(index)])
        return None  # not goat_sell_lot's: the error as it is


class SqlSaleLedger:
    """``ports.SaleLedger``: every write of a lot sent together."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def record(self, sales: Sequence[Sale], now: datetime, jobs: Sequence[Job] = ()) -> None:
        """Write every sale of the lot in this unit of work, all or nothing.

        Raises ``Conflict``, ``NotEnoughMoney`` or ``NotEnoughBonds``, the unit of work
        rolled back (after any other failure too). On PostgreSQL ``Conflict`` and
        ``NotEnoughMoney`` name the first sale of the check that fell short (a row count
        is a statement's total); on SQLite the sale itself. ``NotEnoughBonds`` names the
        fixture.
        """
        if not sales:
            return
        if self._tx.dialect != "postgresql":
            self._tx.run_many(sale_batches(sales, now, jobs))
            return
        lot = Lot(sales, now, jobs)
        try:
            self._tx.run(SELL_LOT, lot.parameters)
        except GoatError as error:
            with contextlib.suppress(GoatError):  # the failure to report is the lot's
                self._tx.rollback()  # nothing of the transaction may be committed now
            refusal = lot.refusal(error.__cause__)
            if refusal is None:
                raise
            raise refusal from None


def sale_batches(sales: Sequence[Sale], now: datetime, jobs: Sequence[Job]) -> list[Batch]:
    """A lot's writes as statements of one row each, in the order they run (SQLite)."""
    paying = [sale for sale in sales if sale.debit]
    wanted = _wanted(sales)
    rows = _rows(sales, jobs, wanted)
    debits = [{"user_id": s.purchase.user_id or "", "amount": s.debit} for s in paying]
    return [
        Batch(ADD_PURCHASE, rows["purchases"], lambda index: _known(sales, index)),
        Batch(DEBIT, debits, lambda index: _broke(paying, index)),
        Batch(ADD_LEDGER, [_debit(sale, now, sign=-1) for sale in paying]),
        Batch(ADD_OUTBOX, rows["announcements"]),
        Batch(ADD_JOB, rows["jobs"]),
        Batch(RESERVE, rows["bonds"], lambda index: NotEnoughBonds(*wanted[index])),
    ]


def _rows(
    sales: Sequence[Sale], jobs: Sequence[Job], wanted: Sequence[tuple[int, int]]
) -> dict[str, list[dict[str, Any]]]:
    """A lot's rows but its debits', by part (named as ``goat_sell_lot``'s arguments): the
    purchases, their announcements, the jobs, each fixture's bonds."""
    return {
        "purchases": [purchase_values(sale.purchase) for sale in sales],
        "announcements": [{"topic": TOPIC_REQUESTS, "payload": s.announcement} for s in sales],
        "jobs": [job_values(job) for job in jobs],
        "bonds": [{"fixture_id": f, "quantity": q} for f, q in wanted],
    }


def _wanted(sales: Sequence[Sale]) -> list[tuple[int, int]]:
    """Each fixture of the lot with the bonds its sales take, by fixture id."""
    wanted: dict[int, int] = {}
    for sale in sales:
        fixture_id = sale.purchase.fixture_id
        wanted[fixture_id] = wanted.get(fixture_id, 0) + sale.purchase.quantity
    return sorted(wanted.items())


def _debit(sale: Sale, now: datetime, sign: int = 1) -> dict[str, Any]:
    """The ledger row of a sale's debit (``amount`` positive for ``goat_sell_lot``)."""
    user_id = sale.purchase.user_id or ""
    return ledger_values(
        user_id, sign * sale.debit, LedgerKind.PURCHASE, sale.purchase.request_id, now
    )


def _known(sales: Sequence[Sale], index: int) -> Conflict:
    return Conflict(f"purchase {sales[index].purchase.request_id} exists already")


def _broke(paying: Sequence[Sale], index: int) -> NotEnoughMoney:
    return NotEnoughMoney(paying[index].purchase.user_id or "", paying[index].debit)
