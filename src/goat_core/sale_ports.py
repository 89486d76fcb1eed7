"""The sale hot path's ports: a lot of our users' purchases written together, through a
unit of work (``SaleLedger``) or from an event loop (``AsyncSaleLedger``). Re-exported by
``goat_core.ports``; each method's docstring is its contract, as there."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

import attrs

from goat_core.jobs import Job
from goat_core.model import Fixture, Purchase

__all__ = ["AsyncSaleLedger", "Sale", "SaleLedger"]


@attrs.frozen
class Sale:
    """One purchase of our users as the sale hot path writes it."""

    purchase: Purchase
    debit: int
    """CLP taken from the buyer's wallet: the cost when paid by wallet, else 0."""
    announcement: str
    """The fixtures/requests message that announces it (queued in the outbox)."""


class SaleLedger(Protocol):
    """The sale hot path: a lot of our users' purchases written together."""

    def record(self, sales: Sequence[Sale], now: datetime, jobs: Sequence[Job] = ()) -> None:
        """Write every sale of the lot in this unit of work, all or nothing.

        For each sale: insert its purchase, debit its wallet (never below zero) with a
        ``purchase`` ledger entry, queue its announcement in the outbox; add ``jobs`` to
        the job outbox (as ``uow.jobs.add`` would, in the same go); then reserve the
        bonds of every fixture once for the lot's total, last and in fixture-id order (the
        fixture rows are the hottest locks). Debits go in the order of ``sales``. An
        adapter may send all of it to the database at once. Raises ``Conflict`` (a
        request id is known), ``NotEnoughMoney`` or ``NotEnoughBonds``; after an error the
        unit of work must be left without committing, and nothing of it is kept.
        """


class AsyncSaleLedger(Protocol):
    """A lot of our users' purchases read and written from an event loop: what
    ``Purchasing.buy_bonds_async`` needs of the database, each call awaited where a unit
    of work would hold a thread. Optional (``Exchange(async_sales=...)``): without it, a
    lot is written by a thread through a unit of work.

    The reads see what is committed, each on its own (as a unit of work's reads before
    its first write); ``record`` is a transaction of its own, committed when it returns.
    """

    async def fixtures(self, fixture_ids: Collection[int]) -> dict[int, Fixture]:
        """The stored fixtures among ``fixture_ids``, by id (``FixtureRepository.get_many``)."""

    async def balances(self, user_ids: Collection[str]) -> dict[str, int]:
        """The balance of each of these users' wallets, by id (``WalletRepository.balances``)."""

    async def record(self, sales: Sequence[Sale], now: datetime, jobs: Sequence[Job] = ()) -> None:
        """``SaleLedger.record``, then the commit: every sale of the lot is kept, or none
        (it raises as ``SaleLedger.record`` does)."""
