"""``ports.AsyncSaleLedger`` over units of work, for the in-memory store."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from goat_core import ports
from goat_core.jobs import Job
from goat_core.model import Fixture

__all__ = ["InMemoryAsyncSaleLedger"]


class InMemoryAsyncSaleLedger:
    """``ports.AsyncSaleLedger`` over units of work (an ``InMemoryStore``'s): each call is
    one, run right on the caller's event loop, which the store never blocks for long."""

    def __init__(self, uow: ports.UnitOfWorkFactory) -> None:
        self._uow = uow

    async def fixtures(self, fixture_ids: Collection[int]) -> dict[int, Fixture]:
        with self._uow() as uow:
            return uow.fixtures.get_many(fixture_ids)

    async def balances(self, user_ids: Collection[str]) -> dict[str, int]:
        with self._uow() as uow:
            return uow.wallets.balances(user_ids)

    async def record(
        self, sales: Sequence[ports.Sale], now: datetime, jobs: Sequence[Job] = ()
    ) -> None:
        with self._uow() as uow:
            uow.sales.record(sales, now, jobs)
            uow.commit()
