"""What the core needs from the outside world, as narrow protocols.

Each method's docstring is its contract: adapters (SQL, in-memory, ...) must honour it,
and ``tests/contract`` checks that they do. Every method of a repository runs inside the
unit of work that owns it, raises its error at once, and nothing is visible to others
before ``commit()``. The one exception to "at once" is the sale hot path, which has a
port of its own (``SaleLedger``, and ``AsyncSaleLedger`` from an event loop, in
``goat_core.sale_ports``): it may send a whole lot of writes to the database in one go.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from types import TracebackType
from typing import Protocol, Self

import attrs

from goat_core.group_ports import AuctionBook, GroupAccount, Inventory
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
from goat_core.providers import (
    BrokerPublisher,
    Clock,
    Email,
    Geolocator,
    IdGenerator,
    JobQueue,
    Mailer,
    OutboxLease,
    PaymentGateway,
    Receipt,
    ReceiptRenderer,
    ReceiptStore,
)
from goat_core.sale_ports import AsyncSaleLedger, Sale, SaleLedger

__all__ = [
    "AsyncSaleLedger",
    "AuctionBook",
    "Auctions",
    "BrokerPublisher",
    "Clock",
    "DeadLetters",
    "Email",
    "FixtureLine",
    "FixtureQuery",
    "FixtureRepository",
    "Geolocator",
    "GroupAccount",
    "IdGenerator",
    "Inbox",
    "Inventory",
    "JobOutbox",
    "JobQueue",
    "Mailer",
    "Outbox",
    "OutboxLease",
    "ParkedRequest",
    "ParkedRequests",
    "ParkedValidations",
    "PaymentGateway",
    "PendingJob",
    "PurchaseRepository",
    "Receipt",
    "ReceiptRenderer",
    "ReceiptStore",
    "RecommendationRepository",
    "Sale",
    "SaleLedger",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
    "WalletRepository",
]


@attrs.frozen
class FixtureQuery:
    """A page of fixtures: upcoming first by kick-off, then the rest, latest kick-off first.

    ``stage`` keeps only the fixtures at that stage (at ``now``, see ``Fixture.stage``);
    without it, any other filter keeps only fixtures not yet started.
    """

    now: datetime
    page: int = 1
    count: int = 25
    home: str | None = None
    away: str | None = None
    date: date | None = None
    upcoming_only: bool = False
    stage: FixtureStage | None = None

    @property
    def filtered(self) -> bool:
        return self.upcoming_only or any((self.home, self.away, self.date))

    @property
    def wanted_stage(self) -> FixtureStage | None:
        """The only stage this query keeps, or None for every stage."""
        if self.stage is not None:
            return self.stage
        return FixtureStage.UPCOMING if self.filtered else None


@attrs.frozen
class FixtureLine:
    """What a recommendation reads of an upcoming fixture with odds."""

    fixture_id: int
    home: str
    away: str
    round: str
    odds_home: Decimal
    odds_away: Decimal

    @classmethod
    def of(cls, fixture: Fixture) -> FixtureLine | None:
        """The line of ``fixture``, or None if it has no odds."""
        if fixture.odds is None:
            return None
        return cls(
            fixture.id,
            fixture.home.name,
            fixture.away.name,
            fixture.league.round,
            fixture.odds.home,
            fixture.odds.away,
        )


class FixtureRepository(Protocol):
    def upsert_many(self, fixtures: Sequence[Fixture], initial_bonds: int, now: datetime) -> None:
        """Insert new fixtures with ``initial_bonds`` available; update known ones in place.

        An update changes the broker's data only: availability is never touched, and a
        finished fixture (final status and both goals) keeps its status and goals.
        """

    def get(self, fixture_id: int) -> Fixture | None:
        """The fixture with its availability, or None."""

    def get_many(self, fixture_ids: Collection[int]) -> dict[int, Fixture]:
        """The stored fixtures among ``fixture_ids``, by id (unknown ids are left out)."""

    def summaries(self, fixture_ids: Collection[int]) -> dict[int, FixtureSummary]:
        """``get_many``, only what a purchase shows of its fixture (``FixtureSummary``)."""

    def lock(self, fixture_id: int) -> None:
        """Hold, until this unit of work ends, a lock on the fixture's result.

        Not its row (buyers never wait for it): recording a final result and accepting a
        purchase of the same fixture serialize on it, so no accepted purchase misses
        its settlement.
        """

    def lock_shared(self, fixture_id: int) -> None:
        """Hold ``lock``'s lock shared, until this unit of work ends: holders of the shared
        lock (users buying from the group's lots) never wait for each other, while a final
        result being recorded (``lock``) waits for them, and they for it."""

    def page(self, query: FixtureQuery) -> tuple[list[Fixture], int]:
        """One page of the fixtures that match the query, and how many match.

        Upcoming fixtures come first, earliest kick-off first; then every other fixture,
        latest kick-off first; ties by id. Stages are as ``Fixture.stage`` says at
        ``query.now``.
        """

    def upcoming(self, now: datetime) -> list[Fixture]:
        """Every fixture that has not started at ``now``."""

    def lines(self, now: datetime, teams: Collection[str]) -> list[FixtureLine]:
        """The fixtures not started at ``now``, with odds, where one of ``teams`` (by name)
        plays: what a recommendation reads of them, no more."""

    def apply_result(self, result: MatchState, now: datetime) -> bool:
        """Record status and goals from fixtures/history; False if the fixture is unknown.

        A result that is not final never overwrites a finished fixture (False then).
        """

    def reserve(self, fixture_id: int, quantity: int) -> int:
        """Take as many of ``quantity`` bonds as are available; return how many were taken.

        Atomic under any concurrency: availability never goes below zero; a fixture that
        is not stored has no bonds (0 taken).
        """

    def release(self, fixture_id: int, quantity: int) -> None:
        """Give ``quantity`` previously reserved bonds back."""

    def reserve_many(self, wanted: Mapping[int, int]) -> dict[int, int]:
        """``reserve`` for several fixtures at once (fixture id → quantity wanted); how many
        were taken of each (a fixture that is not stored is left out)."""


class PurchaseRepository(Protocol):
    def lock(self, request_id: str) -> None:
        """Hold, until this unit of work ends, a lock on ``request_id`` (existing or not).

        Another unit of work locking the same id waits, and then sees what this one
        committed. It serializes a request with its validation when both arrive at once.
        """

    def lock_many(self, request_ids: Collection[str]) -> set[str]:
        """``lock`` each of ``request_ids`` (in a fixed order, so that two callers never
        deadlock); answer those that have a purchase."""

    def known(self, request_ids: Collection[str]) -> set[str]:
        """Those of ``request_ids`` that have a purchase (no lock taken)."""

    def add(self, purchase: Purchase) -> bool:
        """Insert the purchase; False (and no change) if its request_id is already known."""

    def add_many(self, purchases: Sequence[Purchase]) -> set[str]:
        """``add`` each purchase; answer the request ids inserted (the others were known)."""

    def get(self, request_id: str) -> Purchase | None:
        """The purchase, or None."""

    def find_by_payment(self, token: str | None, buy_order: str | None) -> Purchase | None:
        """Our purchase paid with this Webpay token, or else with this buy order."""

    def page_for_user(
        self, user_id: str | None, status: PurchaseStatus | None, page: int, count: int
    ) -> tuple[list[PurchaseView], int]:
        """A user's purchases newest first (every user's if ``user_id`` is None), each with
        its fixture's summary, and the total."""

    def for_fixture(self, fixture_id: int, status: PurchaseStatus) -> list[Purchase]:
        """Purchases of a fixture in one status."""

    def won_bonds_by_team(self, user_id: str) -> dict[str, int]:
        """How many bonds the user won, by the name of the team they backed (a draw backs
        no team): the hits of a recommendation."""

    def awaiting_payment(self, created_before: datetime, limit: int) -> list[Purchase]:
        """Our purchases still ``pending_payment`` that were made before a time, oldest first."""

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
        """Move the purchase to ``to`` only if its status is one of ``allowed_from``.

        A conditional, atomic update: of any number of concurrent callers exactly one
        gets True. This is what makes every effect happen once.
        """

    def claim_give_back(
        self, request_id: str, amount: int, now: datetime, *, stale_before: datetime | None = None
    ) -> bool:
        """Record that ``amount`` CLP taken for the purchase are owed back to its payer.

        A conditional, atomic update of a marker set once (``updated_at`` becomes ``now``):
        of any number of concurrent callers, in any process, exactly one gets True, and
        only it gives the money back. The claim stays pending until ``give_back_done``.
        With ``stale_before``, a pending claim made before that time is taken over the
        same way (one caller wins): how an unfinished give-back is retried.
        """

    def give_back_done(self, request_id: str) -> bool:
        """Close the purchase's pending give-back; False if it was not pending (closed by
        another caller): only the caller that closed it may credit a wallet."""

    def give_backs_pending(
        self, claimed_before: datetime, limit: int
    ) -> list[tuple[Purchase, int]]:
        """Give-backs claimed before a time and not done, with their amount, oldest first."""


class UserRepository(Protocol):
    def get_or_create(self, user_id: str, email: str | None, name: str | None) -> User:
        """The user, created with an empty wallet on first sight (safe under concurrency)."""

    def get(self, user_id: str) -> User | None:
        """The user with their balance, or None."""


class WalletRepository(Protocol):
    def balances(self, user_ids: Collection[str]) -> dict[str, int]:
        """The balance of each of these users' wallets, by id (users never seen are left out)."""

    def credit(
        self, user_id: str, amount: int, kind: LedgerKind, reference: str | None, now: datetime
    ) -> int:
        """Add ``amount`` > 0 to the wallet with a ledger entry; return the new balance."""

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        """Every movement of the wallet, oldest first."""


class Outbox(Protocol):
    def add(self, topic: str, payload: str) -> None:
        """Queue a message to publish after this unit of work commits."""

    def pending(self, limit: int) -> list[OutboxMessage]:
        """Unsent messages, oldest first."""

    def mark_sent(self, ids: Collection[int]) -> None:
        """The broker acknowledged these; never hand them out again."""

    def backlog(self) -> int:
        """How many messages wait to be sent."""


@attrs.frozen
class PendingJob:
    """A job decided in a committed transaction and not yet handed to the job queue."""

    id: int
    job: Job


class JobOutbox(Protocol):
    """Jobs decided in a unit of work, handed to the ``JobQueue`` after it commits."""

    def add(self, *jobs: Job) -> None:
        """Queue these jobs (one write for all) to hand over after this unit of work commits."""

    def pending(self, limit: int) -> list[PendingJob]:
        """Jobs not handed over yet, oldest first."""

    def mark_sent(self, ids: Collection[int]) -> None:
        """The job queue took these; never hand them out again."""

    def backlog(self) -> int:
        """How many jobs wait to be handed over."""


class Inbox(Protocol):
    def remember(self, key: str) -> bool:
        """Record that the message ``key`` is applied; False if it already was."""

    def remember_many(self, keys: Collection[str]) -> set[str]:
        """``remember`` each key; answer those that were new."""


class ParkedValidations(Protocol):
    def park(self, message: ValidationMessage, now: datetime) -> None:
        """Keep a validation whose request has not arrived (the first one kept wins)."""

    def take(self, request_id: str) -> ValidationMessage | None:
        """Remove and return the validation parked for this request, if any."""

    def take_many(self, request_ids: Collection[str]) -> dict[str, ValidationMessage]:
        """``take`` for several requests: the validations parked for them, by request id."""


@attrs.frozen
class ParkedRequest:
    """Another group's fixtures/requests message kept until its fixture arrives."""

    request_id: str
    fixture_id: int
    payload: str
    """The message as received, applied as it was sent once the fixture is known."""
    parked_at: datetime


class ParkedRequests(Protocol):
    """Peers' purchases of fixtures that fixtures/info has not announced yet."""

    def lock(self) -> None:
        """Hold, until this unit of work ends, the one lock that parking a request and
        taking parked requests share.

        Whoever parks a request takes it before looking for the fixture a last time, and
        whoever stores fixtures takes it before ``take_arrived``: so a request is either
        applied at once or parked where the fixture's arrival finds it.
        """

    def park(self, request: ParkedRequest) -> bool:
        """Keep the request (the first one kept for its request id wins); False if one was."""

    def take_arrived(self) -> list[ParkedRequest]:
        """Remove and return every parked request whose fixture is stored now, oldest first."""

    def take_expired(self, parked_before: datetime, limit: int) -> list[ParkedRequest]:
        """Remove and return up to ``limit`` requests parked before a time, oldest first."""


class DeadLetters(Protocol):
    def add(self, topic: str, payload: str, reason: str, now: datetime) -> None:
        """Keep a message that could not be applied, with why."""

    def page(self, page: int, count: int) -> tuple[list[DeadLetter], int]:
        """Kept messages newest first, and how many there are."""


class Auctions(Protocol):
    def add(self, payload: str, now: datetime) -> None:
        """Store a fixtures/auctions message as received."""


class RecommendationRepository(Protocol):
    def get(self, user_id: str) -> Recommendations | None:
        """The user's last computed recommendations, or None."""

    def put(self, recommendations: Recommendations) -> None:
        """Replace the user's recommendations."""


class UnitOfWork(Protocol):
    """One transaction: ``with uow: ...; uow.commit()``. Leaving without commit rolls back."""

    fixtures: FixtureRepository
    purchases: PurchaseRepository
    users: UserRepository
    wallets: WalletRepository
    outbox: Outbox
    jobs: JobOutbox
    inbox: Inbox
    parked: ParkedValidations
    parked_requests: ParkedRequests
    dead_letters: DeadLetters
    auctions: Auctions
    inventory: Inventory
    account: GroupAccount
    auction_book: AuctionBook
    recommendations: RecommendationRepository
    sales: SaleLedger

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None:
        """Make every change of this unit of work durable and visible at once."""

    def rollback(self) -> None:
        """Forget every change since the last commit."""


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork:
        """A fresh unit of work; each call is an independent transaction."""
