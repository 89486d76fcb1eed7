"""``Exchange``: the core's one door. Every use case and query goes through it.

The work is done by one module per concern, which this facade builds over the ports
and delegates to: ``purchasing``, ``accounts``, ``payments``, ``inbox`` (the broker's
messages), ``outbox``, ``settlement`` (shared steps), ``recommendations`` and
``queries`` (the read side), ``group`` (the group's own bonds) and ``auctions`` (trades
with other groups). Each use case is one transaction or a few, never one held
across a call to a provider; follow-up jobs are written to the job outbox in the
transaction that calls for them and reach the job queue through ``relay_jobs``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from goat_core.inventory import AccountEntry, LotView, Offer, Proposal
from goat_core.jobs import Job, MakeReceipt, Recommend, SendEmail
from goat_core.model import (
    DeadLetter,
    Fixture,
    FixtureStage,
    MatchState,
    PaymentStart,
    Purchase,
    PurchaseStatus,
    PurchaseView,
    Recommendations,
    Rules,
    User,
    ValidationMessage,
    Viewer,
)
from goat_core.ports import (
    AsyncSaleLedger,
    BrokerPublisher,
    Clock,
    Geolocator,
    IdGenerator,
    JobQueue,
    Mailer,
    PaymentGateway,
    ReceiptRenderer,
    ReceiptStore,
    UnitOfWorkFactory,
)
from goat_core.services.accounts import Accounts
from goat_core.services.auctions import AuctionHouse
from goat_core.services.context import Context
from goat_core.services.group import GroupBonds
from goat_core.services.inbox import Handled, MessageInbox
from goat_core.services.notices import Notices
from goat_core.services.outbox import relay_jobs, relay_outbox
from goat_core.services.payments import PAYMENT_TIMEOUT, PaymentReturn, Payments
from goat_core.services.purchasing import Bought, BuyBonds, Purchasing
from goat_core.services.queries import Page, Queries, RecommendedFixtures, require_admin
from goat_core.services.recommendations import Recommending

__all__ = ["Exchange"]

log = logging.getLogger("goat.core")


class Exchange:
    """The bond exchange of one group, over the ports it is given.

    ``receipts`` is where receipts are found (``GET /requests/{id}/receipt``); without
    it every receipt stays "being made". ``renderer`` draws them (the ``MakeReceipt``
    job) and ``mailer`` tells buyers what happened (the ``SendEmail`` job); without them
    those jobs only log. ``group_name`` is the name receipts and emails sign with.
    ``geolocator`` locates buyers (``Purchase.location``); without it none is located.
    ``async_sales`` is where a purchase made on an event loop (``buy_bonds_async``) has
    its lot written from the loop itself; without it, a thread writes it through ``uow``.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        payments: PaymentGateway,
        jobs: JobQueue,
        clock: Clock,
        ids: IdGenerator,
        rules: Rules | None = None,
        receipts: ReceiptStore | None = None,
        renderer: ReceiptRenderer | None = None,
        mailer: Mailer | None = None,
        group_name: str = "goat",
        geolocator: Geolocator | None = None,
        async_sales: AsyncSaleLedger | None = None,
    ) -> None:
        self.context = Context(uow, clock, ids, jobs, rules or Rules(), async_sales=async_sales)
        self.purchasing = Purchasing(self.context, payments, geolocator)
        """Buying bonds (``goat_core.services.purchasing``)."""
        self._accounts = Accounts(self.context)
        self._payments = Payments(self.context, payments)
        self._inbox = MessageInbox(self.context)
        self._recommending = Recommending(self.context)
        self._group = GroupBonds(self.context)
        self._auctions = AuctionHouse(self.context)
        self.queries = Queries(self.context, receipts)
        """The read side (``goat_core.services.queries``)."""
        self.notices = Notices(
            self.context,
            receipts=receipts,
            renderer=renderer,
            mailer=mailer,
            group_name=group_name,
        )
        """Receipts and emails (``goat_core.services.notices``)."""

    @property
    def uow(self) -> UnitOfWorkFactory:
        """The units of work the exchange runs on (for tools and tests)."""
        return self.context.uow

    @property
    def clock(self) -> Clock:
        return self.context.clock

    @property
    def rules(self) -> Rules:
        return self.context.rules

    # -- our users (purchasing, accounts, payments) ---------------------------------

    def buy_bonds(self, command: BuyBonds) -> Bought:
        """Buy bonds for one of our users: see ``Purchasing.buy_bonds``."""
        return self.purchasing.buy_bonds(command)

    async def buy_bonds_async(self, command: BuyBonds) -> Bought:
        """``buy_bonds`` from a coroutine: see ``Purchasing.buy_bonds_async``."""
        return await self.purchasing.buy_bonds_async(command)

    def register(self, user_id: str, email: str | None, name: str | None) -> User:
        """The user, created with an empty wallet on first sight."""
        return self._accounts.register(user_id, email, name)

    def top_up(self, user_id: str, amount: int) -> int:
        """Add money to a user's wallet; return the new balance (``Accounts.top_up``)."""
        return self._accounts.top_up(user_id, amount)

    def payment_for(self, user_id: str, request_id: str) -> PaymentStart:
        """Where the owner pays a purchase awaiting payment."""
        return self._payments.payment_for(user_id, request_id)

    def commit_payment(self, user_id: str, back: PaymentReturn) -> Purchase:
        """Settle a payment when its payer comes back (``Payments.commit_payment``)."""
        return self._payments.commit_payment(user_id, back)

    def commit_return(self, back: PaymentReturn) -> Purchase:
        """Settle a payment from a browser without a token (``Payments.commit_return``)."""
        return self._payments.commit_return(back)

    def commit_payment_view(self, user_id: str, back: PaymentReturn) -> PurchaseView:
        """``commit_payment``, answered with the purchase's fixture summary."""
        return self.queries.view(self._payments.commit_payment(user_id, back))

    def paid_with(self, token: str) -> PurchaseView | None:
        """The purchase a Webpay token pays, with its fixture (for payment pages), or None."""
        with self.context.uow() as uow:
            purchase = uow.purchases.find_by_payment(token, None) if token else None
        return self.queries.view(purchase) if purchase is not None else None

    def expire_payments(self, timeout: timedelta = PAYMENT_TIMEOUT, batch: int = 100) -> int:
        """Resolve our purchases left unpaid longer than ``timeout`` (asking the provider
        first); return how many."""
        return self._payments.expire_payments(timeout, batch)

    # -- the group's own bonds (group, auctions) ---------------------------------------

    def group_inventory(self, viewer: Viewer) -> list[LotView]:
        """The group's lots (``GroupBonds.inventory``, admins)."""
        return self._group.inventory(viewer)

    def update_lot(
        self, viewer: Viewer, lot_id: str, *, on_sale: bool | None, discount: int | None
    ) -> LotView:
        """Put a lot on sale or off it, with a discount (``GroupBonds.update_lot``)."""
        return self._group.update_lot(viewer, lot_id, on_sale=on_sale, discount=discount)

    def lots_on_sale(self) -> list[LotView]:
        """The group's bonds our users may buy now (``GroupBonds.on_sale``)."""
        return self._group.on_sale()

    def buy_from_lot(self, user_id: str, lot_id: str, quantity: int) -> PurchaseView:
        """A user buys bonds of a lot on sale by wallet (``GroupBonds.buy_from_lot``)."""
        return self._group.buy_from_lot(user_id, lot_id, quantity)

    def group_account(self, viewer: Viewer) -> tuple[int, list[AccountEntry]]:
        """The group's balance and ledger (``GroupBonds.account``, admins)."""
        return self._group.account(viewer)

    def offer_bonds(self, viewer: Viewer, lot_id: str, quantity: int) -> Offer:
        """Auction bonds of a lot (``AuctionHouse.offer``, admins)."""
        return self._auctions.offer(viewer, lot_id, quantity)

    def propose_bonds(
        self, viewer: Viewer, auction_id: str, lot_id: str, quantity: int
    ) -> Proposal:
        """Propose bonds for another group's auction (``AuctionHouse.propose``, admins)."""
        return self._auctions.propose(viewer, auction_id, lot_id, quantity)

    def accept_proposal(self, viewer: Viewer, proposal_id: str) -> Proposal:
        """Accept a proposal for our auction (``AuctionHouse.accept``, admins)."""
        return self._auctions.accept(viewer, proposal_id)

    def reject_proposal(self, viewer: Viewer, proposal_id: str) -> Proposal:
        """Reject a proposal for our auction (``AuctionHouse.reject``, admins)."""
        return self._auctions.reject(viewer, proposal_id)

    def open_offers(self, viewer: Viewer) -> list[Offer]:
        """Other groups' open offers (``AuctionHouse.open_offers``, admins)."""
        return self._auctions.open_offers(viewer)

    def our_offers(self, viewer: Viewer) -> list[Offer]:
        """Our auctions (``AuctionHouse.our_offers``, admins)."""
        return self._auctions.our_offers(viewer)

    def received_proposals(self, viewer: Viewer) -> list[Proposal]:
        """Proposals for our auctions (``AuctionHouse.received_proposals``, admins)."""
        return self._auctions.received_proposals(viewer)

    def my_proposals(self, viewer: Viewer) -> list[Proposal]:
        """Our proposals (``AuctionHouse.my_proposals``, admins)."""
        return self._auctions.my_proposals(viewer)

    # -- the broker (inbox, outbox) --------------------------------------------------

    def receive(self, topic: str, payload: bytes | str) -> Handled:
        """Apply one broker message exactly once (``MessageInbox.receive``)."""
        return self._inbox.receive(topic, payload)

    def receive_many(self, messages: Sequence[tuple[str, bytes | str]]) -> list[Handled]:
        """Apply several broker messages in one transaction where they allow it."""
        return self._inbox.receive_many(messages)

    def ingest_fixtures(self, fixtures: Sequence[Fixture]) -> int:
        """Store fixtures as fixtures/info says them (without the inbox's once-only check)."""
        return self._inbox.ingest_fixtures(fixtures)

    def record_results(self, states: Sequence[MatchState]) -> int:
        """Apply fixtures/history entries (without the inbox's check); how many settled."""
        return self._inbox.record_results(states)

    def apply_validation(self, message: ValidationMessage, viewer: Viewer | None = None) -> bool:
        """Apply a validation verdict as if it came from the broker.

        A ``viewer`` (a person, not the broker) must be an admin, else ``Forbidden``.
        """
        if viewer is not None:
            require_admin(viewer)
        return self._inbox.apply_validation(message)

    def keep_dead_letter(self, topic: str, payload: str, reason: str) -> None:
        """Keep a message that could not be applied, for an admin to inspect (once, however
        often it comes)."""
        self._inbox.keep_dead_letter(topic, payload, reason)

    def relay_outbox(self, publisher: BrokerPublisher, batch: int = 100) -> int:
        """Publish queued messages oldest first; return how many were acknowledged."""
        return relay_outbox(self.context.uow, publisher, batch)

    # -- jobs ---------------------------------------------------------------------------

    def relay_jobs(self, batch: int = 500) -> int:
        """Hand pending jobs of the job outbox to the job queue (``outbox.relay_jobs``)."""
        return relay_jobs(self.context.uow, self.context.jobs, batch)

    def jobs_backlog(self) -> int:
        """How many jobs of the job outbox wait to be handed to the job queue."""
        with self.context.uow() as uow:
            return uow.jobs.backlog()

    def on_jobs_queued(self, wake: Callable[[], object]) -> None:
        """Call ``wake`` after each commit that added jobs (a job relay's ``wake``)."""
        self.context.on_jobs_queued.append(wake)

    def run_job(self, job: Job) -> None:
        """Do what a queued job asks: what every job queue's worker calls."""
        if isinstance(job, Recommend):
            self.recommend(job.user_id)
        elif isinstance(job, MakeReceipt):
            self.notices.make_receipt(job.request_id)
        else:
            self.send_email(job)

    def send_email(self, job: SendEmail) -> bool:
        """Email a buyer about their purchase, once per event (``Notices.send_email``)."""
        return self.notices.send_email(job.request_id, job.event)

    def request_recommendations(self, user_id: str) -> str:
        """Queue a recomputation of a user's recommendations; return the job's id.

        Unlike the follow-ups of a purchase, an unreachable queue raises ``Unavailable``:
        the user asked for this and is told to retry.
        """
        return self.context.jobs.enqueue(Recommend(user_id))

    def recommend(self, user_id: str) -> Recommendations:
        """Recompute and store a user's recommendations (the ``Recommend`` job)."""
        return self._recommending.recommend(user_id)

    # -- the read side (see ``queries``) --------------------------------------------------

    def fixtures(
        self,
        page: int = 1,
        count: int = 25,
        *,
        home: str | None = None,
        away: str | None = None,
        date: dt.date | None = None,
        stage: FixtureStage | None = None,
    ) -> Page[Fixture]:
        """Upcoming fixtures first, then the rest; ``stage`` filters (``Queries.fixtures``)."""
        return self.queries.fixtures(page, count, home=home, away=away, date=date, stage=stage)

    def fixture(self, fixture_id: int) -> Fixture:
        """One fixture with its availability."""
        return self.queries.fixture(fixture_id)

    def purchases(
        self,
        viewer: Viewer,
        page: int = 1,
        count: int = 25,
        *,
        status: PurchaseStatus | None = None,
        user_id: str | None = None,
    ) -> Page[PurchaseView]:
        """The viewer's purchases, newest first (an admin may name another user)."""
        return self.queries.purchases(viewer, page, count, status=status, user_id=user_id)

    def purchase(self, viewer: Viewer, request_id: str) -> PurchaseView:
        """One purchase, for its owner or an admin."""
        return self.queries.purchase(viewer, request_id)

    def receipt(self, viewer: Viewer, request_id: str) -> str | None:
        """The URL of the owner's receipt, or None while it is being made."""
        return self.queries.receipt(viewer, request_id)

    def balance(self, user_id: str) -> int:
        """A wallet's balance in CLP."""
        return self.queries.balance(user_id)

    def recommendations(self, user_id: str) -> RecommendedFixtures:
        """A user's last computed recommendations with their fixtures."""
        return self.queries.recommendations(user_id)

    def dead_letters(self, viewer: Viewer, page: int = 1, count: int = 25) -> Page[DeadLetter]:
        """Kept broker messages, newest first (admins)."""
        return self.queries.dead_letters(viewer, page, count)

    def outbox_backlog(self) -> int:
        """How many of our messages wait to be published."""
        return self.queries.outbox_backlog()
