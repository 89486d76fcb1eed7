"""The in-memory store: every repository of ``goat_core.ports`` over plain dicts.

A unit of work holds the store's lock for its whole ``with`` block (transactions run one
at a time, so every conditional update is trivially atomic) and works on a copy that
``commit()`` installs.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

import attrs

from goat_adapters.memory.give_backs import MemoryGiveBacks
from goat_adapters.memory.inventory import (
    MemoryAuctionBook,
    MemoryGroupAccount,
    MemoryInventory,
)
from goat_adapters.memory.outboxes import (
    MemoryAuctions,
    MemoryDeadLetters,
    MemoryInbox,
    MemoryJobOutbox,
    MemoryOutbox,
    MemoryParkedRequests,
    MemoryParkedValidations,
)
from goat_core import ports
from goat_core.errors import Conflict, NotEnoughBonds, NotEnoughMoney
from goat_core.inventory import AccountEntry, Lot, Offer, Proposal
from goat_core.jobs import Job
from goat_core.model import (
    DeadLetter,
    Fixture,
    FixtureStage,
    FixtureSummary,
    LedgerEntry,
    LedgerKind,
    MatchState,
    OutboxMessage,
    PaymentStatus,
    Purchase,
    PurchaseStatus,
    PurchaseView,
    Recommendations,
    User,
    ValidationMessage,
)
from goat_core.ports import FixtureQuery
from goat_core.wire import TOPIC_REQUESTS

__all__ = ["InMemoryStore", "InMemoryUnitOfWork"]


@attrs.define
class _State:
    fixtures: dict[int, Fixture] = attrs.Factory(dict)
    purchases: dict[str, Purchase] = attrs.Factory(dict)
    users: dict[str, User] = attrs.Factory(dict)
    ledger: list[LedgerEntry] = attrs.Factory(list)
    outbox: list[tuple[OutboxMessage, bool]] = attrs.Factory(list)
    jobs: list[tuple[ports.PendingJob, bool]] = attrs.Factory(list)
    inbox: set[str] = attrs.Factory(set)
    parked: dict[str, ValidationMessage] = attrs.Factory(dict)
    parked_requests: dict[str, ports.ParkedRequest] = attrs.Factory(dict)
    dead_letters: list[DeadLetter] = attrs.Factory(list)
    auctions: list[str] = attrs.Factory(list)
    lots: dict[str, Lot] = attrs.Factory(dict)
    account: list[AccountEntry] = attrs.Factory(list)
    offers: dict[str, Offer] = attrs.Factory(dict)
    proposals: dict[str, Proposal] = attrs.Factory(dict)
    recommendations: dict[str, Recommendations] = attrs.Factory(dict)
    give_backs: dict[str, tuple[int, bool]] = attrs.Factory(dict)  # id: (amount, done)


class InMemoryStore:
    """The committed state shared by every unit of work made from it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._state = _State()

    def unit_of_work(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)

    # read-only views of committed state, for assertions
    def fixtures(self) -> list[Fixture]:
        with self._lock:
            return list(self._state.fixtures.values())

    def purchases(self) -> list[Purchase]:
        with self._lock:
            return copy.deepcopy(list(self._state.purchases.values()))

    def users(self) -> list[User]:
        with self._lock:
            return list(self._state.users.values())

    def ledger(self) -> list[LedgerEntry]:
        with self._lock:
            return list(self._state.ledger)

    def outbox_messages(self) -> list[OutboxMessage]:
        """Every message ever written to the outbox, sent or not."""
        with self._lock:
            return [message for message, _ in self._state.outbox]

    def jobs(self) -> list[ports.PendingJob]:
        """Every job ever written to the job outbox, sent or not."""
        with self._lock:
            return [entry for entry, _ in self._state.jobs]

    def dead_letters(self) -> list[DeadLetter]:
        with self._lock:
            return list(self._state.dead_letters)

    def auctions(self) -> list[str]:
        with self._lock:
            return list(self._state.auctions)

    def lots(self) -> list[Lot]:
        """Every lot the group ever had, whatever its status or quantity."""
        with self._lock:
            return list(self._state.lots.values())

    def account(self) -> list[AccountEntry]:
        with self._lock:
            return list(self._state.account)

    def offers(self) -> list[Offer]:
        with self._lock:
            return list(self._state.offers.values())

    def proposals(self) -> list[Proposal]:
        with self._lock:
            return list(self._state.proposals.values())


class InMemoryUnitOfWork:
    # typed as the ports: a Protocol's attributes are invariant, so this is what makes
    # ``InMemoryStore.unit_of_work`` a ``UnitOfWorkFactory`` for mypy
    fixtures: ports.FixtureRepository
    purchases: ports.PurchaseRepository
    users: ports.UserRepository
    wallets: ports.WalletRepository
    outbox: ports.Outbox
    jobs: ports.JobOutbox
    inbox: ports.Inbox
    parked: ports.ParkedValidations
    parked_requests: ports.ParkedRequests
    dead_letters: ports.DeadLetters
    auctions: ports.Auctions
    inventory: ports.Inventory
    account: ports.GroupAccount
    auction_book: ports.AuctionBook
    recommendations: ports.RecommendationRepository
    sales: ports.SaleLedger

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._state = _State()

    def __enter__(self) -> Self:
        self._store._lock.acquire()
        self._begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._store._lock.release()

    def commit(self) -> None:
        self._store._state = self._state
        self._begin()

    def rollback(self) -> None:
        self._begin()

    def _begin(self) -> None:
        self._state = copy.deepcopy(self._store._state)
        state = self._state
        self.fixtures = _Fixtures(state)
        self.purchases = _Purchases(state)
        self.users = _Users(state)
        self.wallets = _Wallets(state)
        self.outbox = MemoryOutbox(state)
        self.jobs = MemoryJobOutbox(state)
        self.inbox = MemoryInbox(state)
        self.parked = MemoryParkedValidations(state)
        self.parked_requests = MemoryParkedRequests(state)
        self.dead_letters = MemoryDeadLetters(state)
        self.auctions = MemoryAuctions(state)
        self.inventory = MemoryInventory(state)
        self.account = MemoryGroupAccount(state)
        self.auction_book = MemoryAuctionBook(state)
        self.recommendations = _Recommendations(state)
        self.sales = _Sales(state)


@attrs.define
class _Fixtures:
    s: _State

    def upsert_many(self, fixtures: Sequence[Fixture], initial_bonds: int, now: datetime) -> None:
        for fixture in fixtures:
            known = self.s.fixtures.get(fixture.id)
            available = known.available_bonds if known else initial_bonds
            if known is not None and known.is_finished:
                fixture = attrs.evolve(
                    fixture,
                    status=known.status,
                    status_long=known.status_long,
                    elapsed=known.elapsed,
                    goals_home=known.goals_home,
                    goals_away=known.goals_away,
                )
            self.s.fixtures[fixture.id] = attrs.evolve(
                fixture, available_bonds=available, updated_at=now
            )

    def get(self, fixture_id: int) -> Fixture | None:
        return self.s.fixtures.get(fixture_id)

    def get_many(self, fixture_ids: Collection[int]) -> dict[int, Fixture]:
        return {i: self.s.fixtures[i] for i in fixture_ids if i in self.s.fixtures}

    def summaries(self, fixture_ids: Collection[int]) -> dict[int, FixtureSummary]:
        return {i: FixtureSummary.of(f) for i, f in self.get_many(fixture_ids).items()}

    def lock(self, fixture_id: int) -> None:
        """Nothing to do: units of work on the store already run one at a time."""

    def lock_shared(self, fixture_id: int) -> None:
        """Nothing to do, as for ``lock``."""

    def page(self, query: FixtureQuery) -> tuple[list[Fixture], int]:
        stage = query.wanted_stage

        def matches(f: Fixture) -> bool:
            return (
                (stage is None or f.stage(query.now) is stage)
                and (not query.home or query.home.casefold() in f.home.name.casefold())
                and (not query.away or query.away.casefold() in f.away.name.casefold())
                and (not query.date or f.kickoff.date() == query.date)
            )

        def order(f: Fixture) -> tuple[int, float, int]:
            if f.stage(query.now) is FixtureStage.UPCOMING:
                return (0, f.kickoff.timestamp(), f.id)
            return (1, -f.kickoff.timestamp(), f.id)

        found = sorted((f for f in self.s.fixtures.values() if matches(f)), key=order)
        start = (query.page - 1) * query.count
        return found[start : start + query.count], len(found)

    def lines(self, now: datetime, teams: Collection[str]) -> list[ports.FixtureLine]:
        played = (f for f in self.upcoming(now) if f.home.name in teams or f.away.name in teams)
        return sorted(filter(None, map(ports.FixtureLine.of, played)), key=lambda x: x.fixture_id)

    def upcoming(self, now: datetime) -> list[Fixture]:
        return [f for f in self.s.fixtures.values() if not f.has_started(now)]

    def apply_result(self, result: MatchState, now: datetime) -> bool:
        known = self.s.fixtures.get(result.fixture_id)
        if known is None or (known.is_finished and not result.is_final):
            return False
        self.s.fixtures[known.id] = attrs.evolve(
            known,
            status=result.status,
            status_long=result.status_long,
            elapsed=result.elapsed,
            goals_home=result.goals_home,
            goals_away=result.goals_away,
            updated_at=now,
        )
        return True

    def reserve(self, fixture_id: int, quantity: int) -> int:
        known = self.s.fixtures.get(fixture_id)
        if known is None or quantity <= 0:
            return 0
        taken = min(quantity, known.available_bonds or 0)
        self._set(known, (known.available_bonds or 0) - taken)
        return taken

    def reserve_many(self, wanted: Mapping[int, int]) -> dict[int, int]:
        return {f: self.reserve(f, q) for f, q in sorted(wanted.items()) if f in self.s.fixtures}

    def release(self, fixture_id: int, quantity: int) -> None:
        known = self.s.fixtures.get(fixture_id)
        if known is not None and quantity > 0:
            self._set(known, (known.available_bonds or 0) + quantity)

    def _set(self, fixture: Fixture, available: int) -> None:
        self.s.fixtures[fixture.id] = attrs.evolve(fixture, available_bonds=available)


@attrs.define
class _Purchases(MemoryGiveBacks):
    s: _State

    def lock(self, request_id: str) -> None:
        """Nothing to do: units of work on the store already run one at a time."""

    def lock_many(self, request_ids: Collection[str]) -> set[str]:
        return self.known(request_ids)

    def known(self, request_ids: Collection[str]) -> set[str]:
        return {rid for rid in request_ids if rid in self.s.purchases}

    def add(self, purchase: Purchase) -> bool:
        if purchase.request_id in self.s.purchases:
            return False
        self.s.purchases[purchase.request_id] = copy.deepcopy(purchase)
        return True

    def add_many(self, purchases: Sequence[Purchase]) -> set[str]:
        return {p.request_id for p in purchases if self.add(p)}

    def get(self, request_id: str) -> Purchase | None:
        return copy.deepcopy(self.s.purchases.get(request_id))

    def find_by_payment(self, token: str | None, buy_order: str | None) -> Purchase | None:
        ours = [p for p in self.s.purchases.values() if p.is_ours]
        found = next((p for p in ours if token and p.deposit_token == token), None)
        if found is None:
            found = next((p for p in ours if buy_order and p.buy_order == buy_order), None)
        return copy.deepcopy(found)

    def page_for_user(
        self, user_id: str | None, status: PurchaseStatus | None, page: int, count: int
    ) -> tuple[list[PurchaseView], int]:
        found = [
            p
            for p in self.s.purchases.values()
            if p.is_ours
            and (user_id is None or p.user_id == user_id)
            and (status is None or p.status == status)
        ]
        found.sort(key=lambda p: (p.created_at, p.request_id), reverse=True)
        start = (page - 1) * count
        fixtures = self.s.fixtures
        return [
            PurchaseView(p, FixtureSummary.of(f) if (f := fixtures.get(p.fixture_id)) else None)
            for p in copy.deepcopy(found[start : start + count])
        ], len(found)

    def for_fixture(self, fixture_id: int, status: PurchaseStatus) -> list[Purchase]:
        return copy.deepcopy(
            [
                p
                for p in self.s.purchases.values()
                if p.fixture_id == fixture_id and p.status == status
            ]
        )

    def won_bonds_by_team(self, user_id: str) -> dict[str, int]:
        hits: dict[str, int] = {}
        for p in self.s.purchases.values():
            fixture = self.s.fixtures.get(p.fixture_id)
            team = fixture.team_for(p.result) if fixture else None
            if p.user_id == user_id and p.status == PurchaseStatus.WON and team is not None:
                hits[team.name] = hits.get(team.name, 0) + p.quantity
        return hits

    def awaiting_payment(self, created_before: datetime, limit: int) -> list[Purchase]:
        found = sorted(
            (
                p
                for p in self.s.purchases.values()
                if p.status == PurchaseStatus.PENDING_PAYMENT and p.created_at < created_before
            ),
            key=lambda p: (p.created_at, p.request_id),
        )
        return copy.deepcopy(found[:limit])

    def transition(
        self,
        request_id: str,
        allowed_from: Collection[PurchaseStatus],
        to: PurchaseStatus,
        now: datetime,
        *,
        payout: int | None = None,
        payment_status: PaymentStatus | None = None,
    ) -> bool:
        purchase = self.s.purchases.get(request_id)
        if purchase is None or purchase.status not in allowed_from:
            return False
        purchase.status = to
        purchase.updated_at = now
        if payout is not None:
            purchase.payout = payout
        if payment_status is not None:
            purchase.payment_status = payment_status
        return True


@attrs.define
class _Users:
    s: _State

    def get_or_create(self, user_id: str, email: str | None, name: str | None) -> User:
        if user_id not in self.s.users:
            self.s.users[user_id] = User(id=user_id, email=email, name=name)
        return self.s.users[user_id]

    def get(self, user_id: str) -> User | None:
        return self.s.users.get(user_id)


@attrs.define
class _Wallets:
    s: _State

    def credit(
        self, user_id: str, amount: int, kind: LedgerKind, reference: str | None, now: datetime
    ) -> int:
        if amount <= 0:
            raise ValueError("a credit must be positive")
        return self._move(user_id, amount, kind, reference, now)

    def balances(self, user_ids: Collection[str]) -> dict[str, int]:
        return {u: self.s.users[u].wallet for u in user_ids if u in self.s.users}

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        return [e for e in self.s.ledger if e.user_id == user_id]

    def _move(
        self, user_id: str, amount: int, kind: LedgerKind, reference: str | None, now: datetime
    ) -> int:
        user = self.s.users.get(user_id) or User(id=user_id)
        self.s.users[user_id] = attrs.evolve(user, wallet=user.wallet + amount)
        self.s.ledger.append(LedgerEntry(user_id, amount, kind, reference, now))
        return user.wallet + amount


@attrs.define
class _Recommendations:
    s: _State

    def get(self, user_id: str) -> Recommendations | None:
        return self.s.recommendations.get(user_id)

    def put(self, recommendations: Recommendations) -> None:
        self.s.recommendations[recommendations.user_id] = recommendations


@attrs.define
class _Sales:
    """The sale hot path: every check first, then every write, so a failure keeps nothing."""

    s: _State

    def record(self, sales: Sequence[ports.Sale], now: datetime, jobs: Sequence[Job] = ()) -> None:
        purchases = _Purchases(self.s)
        wanted: dict[int, int] = {}
        spent: dict[str, int] = {}
        seen: set[str] = set()
        for sale in sales:
            purchase = sale.purchase
            if purchase.request_id in seen or purchases.get(purchase.request_id) is not None:
                raise Conflict(f"purchase {purchase.request_id} exists already")
            seen.add(purchase.request_id)
            wanted[purchase.fixture_id] = wanted.get(purchase.fixture_id, 0) + purchase.quantity
            if sale.debit:
                user_id = purchase.user_id or ""
                spent[user_id] = spent.get(user_id, 0) + sale.debit
                user = self.s.users.get(user_id)
                if user is None or user.wallet < spent[user_id]:
                    raise NotEnoughMoney(user_id, sale.debit)
        for fixture_id, quantity in sorted(wanted.items()):
            known = self.s.fixtures.get(fixture_id)
            if known is None or (known.available_bonds or 0) < quantity:
                raise NotEnoughBonds(fixture_id, quantity)
        wallets, outbox, fixtures = _Wallets(self.s), MemoryOutbox(self.s), _Fixtures(self.s)
        for sale in sales:
            purchases.add(sale.purchase)
            if sale.debit:
                user_id = sale.purchase.user_id or ""
                wallets._move(
                    user_id, -sale.debit, LedgerKind.PURCHASE, sale.purchase.request_id, now
                )
            outbox.add(TOPIC_REQUESTS, sale.announcement)
        MemoryJobOutbox(self.s).add(*jobs)
        for fixture_id, quantity in sorted(wanted.items()):
            fixtures.reserve(fixture_id, quantity)
