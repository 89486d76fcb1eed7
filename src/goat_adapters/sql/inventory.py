"""``ports.Inventory`` and ``ports.GroupAccount`` on the ``lots`` and ``group_account`` tables.

Every change is a conditional statement whose row count says whether it happened: a lot
is inserted once per source (``ON CONFLICT DO NOTHING``), decremented only while it
holds enough (``WHERE quantity >= :q``), moved only from the statuses allowed; a sale
also debits the wallet only while it covers the cost (``WHERE wallet >= :amount``).
So no amount of concurrency, in any number of processes, sells a lot beyond its
quantity or overdraws a wallet.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from goat_adapters.sql import tables as t
from goat_adapters.sql.purchases import ADD_PURCHASE, purchase_values
from goat_adapters.sql.statements import Statement, Transaction, dialect_insert, insert_new, one_of
from goat_adapters.sql.users import ADD_LEDGER, DEBIT, ledger_values
from goat_core.errors import Conflict, LotTooSmall, NotEnoughMoney
from goat_core.inventory import AccountEntry, AccountKind, Lot, LotStatus, Origin
from goat_core.model import LedgerKind, Outcome, Purchase

__all__ = ["SqlGroupAccount", "SqlInventory"]

_L = t.lots.c
_A = t.group_account.c

_ADD = insert_new(t.lots)
_TAKE = Statement(
    lambda dialect: (
        sa.update(t.lots)
        .where(
            _L.id == sa.bindparam("lot_id"),
            _L.quantity >= sa.bindparam("quantity", type_=sa.Integer),
            one_of(dialect, _L.status, "statuses"),
        )
        .values(quantity=_L.quantity - sa.bindparam("quantity", type_=sa.Integer))
    )
)
_MOVE = Statement(
    lambda dialect: (
        sa.update(t.lots)
        .where(_L.id == sa.bindparam("lot_id"), one_of(dialect, _L.status, "allowed"))
        .values(
            status=sa.bindparam("to", type_=sa.String),
            discount=sa.func.coalesce(sa.bindparam("discount", type_=sa.Integer), _L.discount),
        )
    )
)
_SETTLE = Statement(
    sa.update(t.lots)
    .where(
        _L.id == sa.bindparam("lot_id"),
        _L.settled == sa.false(),
        _L.status != LotStatus.TRADED.value,
    )
    .values(settled=True)
)
_ADD_ENTRY = Statement(
    lambda dialect: (
        dialect_insert(dialect, t.group_account)
        .values(
            amount=sa.bindparam("amount"),
            kind=sa.bindparam("kind"),
            reference=sa.bindparam("reference"),
            at=sa.bindparam("at"),
        )
        .on_conflict_do_nothing()
    )
)


def _lot(row: Any) -> Lot:
    return Lot(
        id=row.id,
        fixture_id=row.fixture_id,
        result=Outcome(row.result),
        quantity=row.quantity,
        status=LotStatus(row.status),
        origin=Origin(row.origin),
        source=row.source,
        created_at=row.created_at,
        discount=row.discount,
        settled=bool(row.settled),
    )


class SqlInventory:
    """``ports.Inventory`` on the ``lots`` table."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def add(self, lot: Lot) -> bool:
        """Insert the lot; False (and no change) if a lot with its ``source`` exists."""
        values = {
            "id": lot.id,
            "fixture_id": lot.fixture_id,
            "result": lot.result.value,
            "quantity": lot.quantity,
            "status": lot.status.value,
            "origin": lot.origin.value,
            "source": lot.source,
            "discount": lot.discount,
            "settled": lot.settled,
            "created_at": lot.created_at,
        }
        return self._tx.run(_ADD, values).rowcount > 0

    def get(self, lot_id: str) -> Lot | None:
        """The lot, or None."""
        row = self._tx.execute(sa.select(t.lots).where(_L.id == lot_id)).first()
        return _lot(row) if row is not None else None

    def by_source(self, source: str) -> Lot | None:
        """The lot that ``source`` made, or None."""
        row = self._tx.execute(sa.select(t.lots).where(_L.source == source)).first()
        return _lot(row) if row is not None else None

    def lots(self, statuses: Collection[LotStatus]) -> list[Lot]:
        """Lots in these statuses that hold bonds, oldest first."""
        query = (
            sa.select(t.lots)
            .where(_L.status.in_([s.value for s in statuses]), _L.quantity > 0)
            .order_by(_L.created_at, _L.id)
        )
        return [_lot(row) for row in self._tx.execute(query)]

    def for_fixture(self, fixture_id: int) -> list[Lot]:
        """Every lot of a fixture, oldest first."""
        query = sa.select(t.lots).where(_L.fixture_id == fixture_id).order_by(_L.created_at, _L.id)
        return [_lot(row) for row in self._tx.execute(query)]

    def take(self, lot_id: str, quantity: int, statuses: Collection[LotStatus]) -> bool:
        """Take ``quantity`` bonds if the lot holds them in one of ``statuses``."""
        if quantity < 1:
            return False
        parameters = {
            "lot_id": lot_id,
            "quantity": quantity,
            "statuses": [s.value for s in statuses],
        }
        return self._tx.run(_TAKE, parameters).rowcount > 0

    def move(
        self,
        lot_id: str,
        allowed_from: Collection[LotStatus],
        to: LotStatus,
        discount: int | None = None,
    ) -> bool:
        """Move the lot to ``to`` (and ``discount``) only from ``allowed_from``."""
        parameters = {
            "lot_id": lot_id,
            "allowed": [s.value for s in allowed_from],
            "to": to.value,
            "discount": discount,
        }
        return self._tx.run(_MOVE, parameters).rowcount > 0

    def mark_settled(self, lot_id: str) -> bool:
        """Record the lot settled; False if it already was or is traded away."""
        return self._tx.run(_SETTLE, {"lot_id": lot_id}).rowcount > 0

    def sell(self, lot_id: str, purchase: Purchase, cost: int, now: datetime) -> None:
        """Take the bonds, debit the wallet, insert the purchase, credit the account.

        The lot's row is locked first, then the wallet's: every sale locks in that order.
        """
        if not self.take(lot_id, purchase.quantity, (LotStatus.ON_SALE,)):
            raise LotTooSmall(lot_id, purchase.quantity)
        user_id = purchase.user_id or ""
        if cost:
            if self._tx.run(DEBIT, {"user_id": user_id, "amount": cost}).rowcount < 1:
                raise NotEnoughMoney(user_id, cost)
            entry = ledger_values(user_id, -cost, LedgerKind.PURCHASE, purchase.request_id, now)
            self._tx.run(ADD_LEDGER, entry)
        if self._tx.run(ADD_PURCHASE, purchase_values(purchase)).rowcount < 1:
            raise Conflict(f"purchase {purchase.request_id} exists already")
        if cost:
            SqlGroupAccount(self._tx).add(
                AccountEntry(cost, AccountKind.SALE, purchase.request_id, now)
            )


class SqlGroupAccount:
    """``ports.GroupAccount`` on the ``group_account`` table."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def add(self, entry: AccountEntry) -> bool:
        """Append the entry; False if one of its kind and reference exists."""
        values = {
            "amount": entry.amount,
            "kind": entry.kind.value,
            "reference": entry.reference,
            "at": entry.at,
        }
        return self._tx.run(_ADD_ENTRY, values).rowcount > 0

    def entries(self) -> list[AccountEntry]:
        """Every entry, oldest first."""
        rows = self._tx.execute(sa.select(t.group_account).order_by(_A.id))
        return [
            AccountEntry(row.amount, AccountKind(row.kind), row.reference, row.at) for row in rows
        ]
