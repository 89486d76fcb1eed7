"""``SandboxStore`` in the database: the sandbox's transactions survive its process and are
shared by every process on the database (``goat api --workers 2``).

Each change is one conditional ``UPDATE`` whose row count says whether it happened, so a
decision is recorded once and a token commits once whichever process serves the call.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from goat_adapters.sql.errors import translated
from goat_adapters.sql.tables import webpay_sandbox
from goat_adapters.webpay.sandbox import SandboxDecision, SandboxTransaction

__all__ = ["SqlSandboxStore"]

_T = webpay_sandbox.c
_PAID = (SandboxDecision.APPROVE.value, SandboxDecision.REJECT.value)


class SqlSandboxStore:
    """``goat_adapters.webpay.SandboxStore`` on the ``webpay_sandbox`` table."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, transaction: SandboxTransaction) -> None:
        with translated(), self._engine.begin() as connection:
            connection.execute(
                sa.insert(webpay_sandbox).values(
                    token=transaction.token,
                    buy_order=transaction.buy_order,
                    session_id=transaction.session_id,
                    amount=transaction.amount,
                    return_url=transaction.return_url,
                )
            )

    def get(self, token: str) -> SandboxTransaction | None:
        with translated(), self._engine.connect() as connection:
            row = connection.execute(sa.select(webpay_sandbox).where(_T.token == token)).first()
        return _transaction(row) if row is not None else None

    def decide(self, token: str, decision: SandboxDecision) -> SandboxTransaction | None:
        with translated(), self._engine.begin() as connection:
            connection.execute(
                sa.update(webpay_sandbox)
                .where(_T.token == token, _T.decision.is_(None))
                .values(decision=decision.value)
            )
        return self.get(token)

    def commit(self, token: str) -> bool:
        return self._mark(
            sa.update(webpay_sandbox)
            .where(_T.token == token, _T.committed.is_(False), _T.decision.in_(_PAID))
            .values(committed=True)
        )

    def refund(self, token: str) -> bool:
        return self._mark(
            sa.update(webpay_sandbox)
            .where(
                _T.token == token,
                _T.committed.is_(True),
                _T.refunded.is_(False),
                _T.decision == SandboxDecision.APPROVE.value,
            )
            .values(refunded=True)
        )

    def _mark(self, statement: sa.Update) -> bool:
        with translated(), self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1


def _transaction(row: Any) -> SandboxTransaction:
    return SandboxTransaction(
        token=row.token,
        buy_order=row.buy_order,
        session_id=row.session_id,
        amount=row.amount,
        return_url=row.return_url,
        decision=SandboxDecision(row.decision) if row.decision else None,
        committed=bool(row.committed),
        refunded=bool(row.refunded),
    )
