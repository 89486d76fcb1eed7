"""Users, their wallets and their recommendations: ``users``, ``ledger``, ``recommendations``.

A debit is a conditional ``UPDATE ... WHERE wallet >= :amount`` whose row count says
whether it happened, so no amount of concurrency overdraws a wallet.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.sql import Executable

from goat_adapters.sql import tables as t
from goat_adapters.sql.statements import Statement, Transaction, dialect_insert, one_of
from goat_core.model import LedgerEntry, LedgerKind, Recommendation, Recommendations, User

__all__ = [
    "ADD_LEDGER",
    "BALANCES",
    "DEBIT",
    "SqlRecommendationRepository",
    "SqlUserRepository",
    "SqlWalletRepository",
    "ledger_values",
]

_U, _L = t.users.c, t.ledger.c
_LEDGER_COLUMNS = ("user_id", "amount", "kind", "reference", "at")

_GET_USER = Statement(sa.select(t.users).where(_U.id == sa.bindparam("user_id")))
_ADD_USER = Statement(
    lambda dialect: (
        dialect_insert(dialect, t.users)
        .values(id=sa.bindparam("user_id"), email=sa.bindparam("email"), name=sa.bindparam("name"))
        .values(wallet=0)
        .on_conflict_do_nothing(index_elements=[_U.id])
    )
)
BALANCES = Statement(
    lambda dialect: sa.select(_U.id, _U.wallet).where(one_of(dialect, _U.id, "ids"))
)


def _credit(dialect: str) -> Executable:
    insert = dialect_insert(dialect, t.users).values(
        id=sa.bindparam("user_id"), wallet=sa.bindparam("amount", type_=sa.BigInteger)
    )
    return insert.on_conflict_do_update(
        index_elements=[_U.id], set_={"wallet": _U.wallet + insert.excluded.wallet}
    ).returning(_U.wallet)


_CREDIT = Statement(_credit)
"""Add to a wallet, opening it for a user never seen; returns the new balance."""

_DEBIT = (
    sa.update(t.users)
    .where(_U.id == sa.bindparam("user_id"), _U.wallet >= sa.bindparam("amount"))
    .values(wallet=_U.wallet - sa.bindparam("amount"))
)
DEBIT = Statement(_DEBIT)
"""Take ``amount`` if the balance covers it: the row count (0 or 1) says whether it did."""
ADD_LEDGER = Statement(
    # inline: no RETURNING of the new id
    sa.insert(t.ledger).values({name: sa.bindparam(name) for name in _LEDGER_COLUMNS}).inline()
)
"""Record a movement of a wallet (``amount`` signed)."""


class SqlUserRepository:
    """``ports.UserRepository`` on the ``users`` table (the balance lives there too)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def get_or_create(self, user_id: str, email: str | None, name: str | None) -> User:
        """The user, created with an empty wallet on first sight (safe under concurrency)."""
        self._tx.run(_ADD_USER, {"user_id": user_id, "email": email, "name": name})
        user = self.get(user_id)
        assert user is not None  # just inserted, or already there
        return user

    def get(self, user_id: str) -> User | None:
        """The user with their balance, or None."""
        row = self._tx.run(_GET_USER, {"user_id": user_id}).first()
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
        found = self._tx.run(_CREDIT, {"user_id": user_id, "amount": amount}).first()
        assert found is not None  # an upsert returns its row
        self._tx.run(ADD_LEDGER, ledger_values(user_id, amount, kind, reference, now))
        return int(found.wallet)

    def balances(self, user_ids: Collection[str]) -> dict[str, int]:
        """The balance of each of these users' wallets, by id, in one query."""
        rows = self._tx.run(BALANCES, {"ids": list(user_ids)}).rows
        return {row.id: int(row.wallet) for row in rows}

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        """Every movement of the wallet, oldest first."""
        rows = self._tx.execute(sa.select(t.ledger).where(_L.user_id == user_id).order_by(_L.id))
        return [
            LedgerEntry(row.user_id, row.amount, LedgerKind(row.kind), row.reference, row.at)
            for row in rows
        ]


def ledger_values(
    user_id: str, amount: int, kind: LedgerKind, reference: str | None, now: datetime
) -> dict[str, object]:
    """The parameters of ``ADD_LEDGER``."""
    return {
        "user_id": user_id,
        "amount": amount,
        "kind": kind.value,
        "reference": reference,
        "at": now,
    }


_R = t.recommendations.c
_GET_RECOMMENDATIONS = Statement(
    sa.select(t.recommendations).where(_R.user_id == sa.bindparam("user_id"))
)


def _put_recommendations(dialect: str) -> Executable:
    insert = dialect_insert(dialect, t.recommendations).values(
        {name: sa.bindparam(name) for name in ("user_id", "updated_at", "items")}
    )
    return insert.on_conflict_do_update(
        index_elements=[_R.user_id],
        set_={"updated_at": insert.excluded.updated_at, "items": insert.excluded["items"]},
    )


_PUT_RECOMMENDATIONS = Statement(_put_recommendations)


class SqlRecommendationRepository:
    """``ports.RecommendationRepository``: one row per user, the items as JSON."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def get(self, user_id: str) -> Recommendations | None:
        """The user's last computed recommendations, or None."""
        row = self._tx.run(_GET_RECOMMENDATIONS, {"user_id": user_id}).first()
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
        values = {
            "user_id": recommendations.user_id,
            "updated_at": recommendations.updated_at,
            "items": items,
        }
        self._tx.run(_PUT_RECOMMENDATIONS, values)
