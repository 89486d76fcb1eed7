"""Our users buy bonds: checked, paid by wallet or opened on Webpay, written in lots.

A purchase ends on its fixture's row, the hottest lock of the system, so the purchases
that threads (or coroutines) make at the same moment are written as one lot in one
transaction (``goat_core.grouping``) through the ``SaleLedger`` port (or, from an event
loop, ``AsyncSaleLedger``); each caller still gets only its own outcome.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import hashlib
import ipaddress
import logging
from collections.abc import Sequence
from datetime import datetime

import attrs

from goat_core.errors import (
    Busy,
    Deadlock,
    FixtureStarted,
    Forbidden,
    GoatError,
    InvalidInput,
    NotEnoughBonds,
    NotEnoughMoney,
    Unavailable,
    UnknownFixture,
)
from goat_core.grouping import AsyncGroupCommit, GroupCommit
from goat_core.jobs import Job, Recommend
from goat_core.model import (
    Fixture,
    FixtureSummary,
    Location,
    Outcome,
    PaymentStart,
    Purchase,
    PurchaseStatus,
    PurchaseView,
)
from goat_core.ports import AsyncSaleLedger, Geolocator, PaymentGateway, Sale
from goat_core.services.context import Context
from goat_core.wire import render_request

__all__ = ["Bought", "BuyBonds", "Purchasing"]

log = logging.getLogger("goat.core")


@attrs.frozen
class BuyBonds:
    """A user of our group buys ``quantity`` bonds on ``result`` of a fixture.

    ``result`` is an ``Outcome``, or text as a user writes it: home, draw, away, ``---``
    or the name of either team. ``client_ip`` is where the buyer's request came from,
    located with the purchase (course RF04) when it is a public address.
    """

    user_id: str
    fixture_id: int
    result: Outcome | str
    quantity: int
    wallet: bool
    return_url: str = ""
    client_ip: str | None = None
    seller: int = 0
    """Our group's id for an admin's purchase for the group's inventory (CONTRACT §4b)."""
    admin: bool = False
    """Whether the buyer carries goat:admin (only admins may name a ``seller``)."""


@attrs.frozen
class Bought:
    """A new purchase, and where to pay it when it is paid through Webpay."""

    purchase: Purchase
    payment: PaymentStart | None
    fixture: FixtureSummary | None = None

    @property
    def view(self) -> PurchaseView:
        """The purchase with a summary of its fixture."""
        return PurchaseView(self.purchase, self.fixture)


@attrs.frozen
class _Order:
    """A ``BuyBonds`` on its way to the database, with what was settled before."""

    command: BuyBonds
    result: Outcome
    request_id: str
    now: datetime
    payment: PaymentStart | None
    buy_order: str | None
    location: Location | None = None


def locatable(ip: str | None) -> bool:
    """Whether ``ip`` is a public address worth locating (not private, loopback, ...)."""
    try:
        return ip is not None and ipaddress.ip_address(ip).is_global
    except ValueError:
        return False


class Purchasing:
    """Buying bonds for our users.

    With a ``geolocator``, each purchase records where its buyer was (``Purchase.location``),
    asked before the purchase's transaction; a private, loopback or unknown address, or a
    geolocator that fails, leaves the location unknown and the purchase goes on.
    """

    def __init__(
        self, context: Context, payments: PaymentGateway, geolocator: Geolocator | None = None
    ) -> None:
        self._context = context
        self._payments = payments
        self._geolocator = geolocator
        self._lots: GroupCommit[_Order, Bought] = GroupCommit(self._sell)
        self._lots_async: AsyncGroupCommit[_Order, Bought] = AsyncGroupCommit(self._sell_async)

    @property
    def waiting(self) -> int:
        """How many purchases wait for the lot being written (for tests and metrics)."""
        return self._lots.waiting + self._lots_async.waiting

    def buy_bonds(self, command: BuyBonds) -> Bought:
        """Reserve bonds for one of our users and announce the purchase.

        By wallet the cost is debited in the same transaction and the purchase waits for
        the course's validation (``pending``); otherwise a Webpay transaction is opened and
        the purchase waits for payment (``pending_payment``). Raises ``InvalidInput``,
        ``UnknownFixture``, ``FixtureStarted``, ``NotEnoughMoney`` or ``NotEnoughBonds``
        and then changes nothing.
        """
        return self._lots.submit(self._order(command))

    async def buy_bonds_async(self, command: BuyBonds) -> Bought:
        """``buy_bonds`` for a coroutine on an event loop: the same checks and outcomes.

        A purchase that calls out before its lot (Webpay, the geolocator, the fixture read
        for a team's name) is bought whole in the loop's default executor, as
        ``buy_bonds``, in the caller's context (its log lines keep the request's id): a
        job begun is never cancelled and a loop shutting down waits for it, so a Webpay
        transaction opened is never left without its purchase. Any other waits for its
        lot on the loop, holding no thread (``AsyncGroupCommit``).
        """
        if self._calls_out(command):
            context = contextvars.copy_context()
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, context.run, self.buy_bonds, command)
        return await self._lots_async.submit(self._order(command))

    def _calls_out(self, command: BuyBonds) -> bool:
        """Whether ordering ``command`` calls a port that may block (see ``_order``)."""
        return (
            not command.wallet
            or _plain_outcome(command.result) is None
            or (self._geolocator is not None and locatable(command.client_ip))
        )

    def _order(self, command: BuyBonds) -> _Order:
        """The checks before the lot; Webpay's transaction opened, the buyer located."""
        context, rules = self._context, self._context.rules
        if command.quantity < 1:
            raise InvalidInput("quantity", "must be at least 1")
        if command.quantity > rules.bonds_per_fixture:
            raise InvalidInput("quantity", f"must be at most {rules.bonds_per_fixture}")
        if command.seller:
            if not command.admin:
                raise Forbidden("only an admin buys for the group (seller)")
            if str(command.seller) != rules.group_id:
                raise InvalidInput("seller", f"must be 0 or our group id {rules.group_id}")
        result = self._outcome(command)
        now = context.clock.now()
        payment = None
        buy_order = None
        if not command.wallet:
            # no payment for what could not be sold (the lot checks again)
            with context.uow() as uow:
                _on_sale(command, uow.fixtures.get(command.fixture_id), now)
            # A fresh id, never published (unlike the request id): a timed-out return names
            # the purchase by its buy order alone, so only the payer may know it. Webpay
            # caps it at 26; the tail is what tells sequential ids apart.
            buy_order = context.ids.new_id().replace("-", "")[-26:]
            # the session id travels in the return URL: a digest, not the user's id
            session = hashlib.sha256(command.user_id.encode()).hexdigest()[:32]
            cost = command.quantity * rules.bond_price
            payment = self._payments.start(buy_order, session, cost, command.return_url)
        location = self._locate(command.client_ip)
        return _Order(command, result, context.ids.new_id(), now, payment, buy_order, location)

    def _locate(self, ip: str | None) -> Location | None:
        if self._geolocator is None or ip is None or not locatable(ip):
            return None
        try:
            return self._geolocator.locate(ip)
        except Exception as error:  # the port promises not to raise; a purchase never fails on it
            log.warning("could not locate a buyer: %s", error)
            return None

    def _outcome(self, command: BuyBonds) -> Outcome:
        found = _plain_outcome(command.result)
        if found is not None:
            return found
        with self._context.uow() as uow:  # a team's name: the fixture says which side
            fixture = uow.fixtures.get(command.fixture_id)
        if fixture is None:
            raise UnknownFixture(command.fixture_id)
        found = fixture.outcome_of(command.result)
        if found is None:
            raise InvalidInput("result", "must be home, draw, away, a team of the fixture or ---")
        return found

    def _sell(self, orders: Sequence[_Order]) -> list[Bought | Exception]:
        """Write a lot of orders in one transaction (see ``GroupCommit``).

        An order whose fixture is unknown, started or short of bonds, or whose wallet is
        short of money, gets its error and the others go on; a write that fails even so
        (another process got there first) raises, and nothing of the lot is kept. A busy
        or unreachable database is no one order's fault: every order of the lot gets that
        error at once (one by one, each would wait as long). A lot the database aborted to
        break a lock cycle (should one remain: lots and the listener lock buyers, then
        fixtures) is written once more first: nothing of it was kept, and the other side
        goes on.
        """
        try:
            try:
                return self._write_lot(orders)
            except Deadlock:
                log.info("a lot of %d purchases was aborted by a deadlock: once more", len(orders))
                return self._write_lot(orders)
        except (Busy, Unavailable) as error:
            return [copy.copy(error) for _ in orders]  # each caller raises its own

    async def _sell_async(self, orders: Sequence[_Order]) -> list[Bought | Exception]:
        """``_sell`` on the event loop, through the ``AsyncSaleLedger`` port; without one,
        ``_sell`` in a thread of the loop's executor."""
        ledger = self._context.async_sales
        if ledger is None:
            return await asyncio.to_thread(self._sell, orders)
        try:
            try:
                return await self._write_lot_async(ledger, orders)
            except Deadlock:
                log.info("a lot of %d purchases was aborted by a deadlock: once more", len(orders))
                return await self._write_lot_async(ledger, orders)
        except (Busy, Unavailable) as error:
            return [copy.copy(error) for _ in orders]

    def _write_lot(self, orders: Sequence[_Order]) -> list[Bought | Exception]:
        with self._context.uow() as uow:
            fixtures = uow.fixtures.get_many({order.command.fixture_id for order in orders})
            payers = _payers_to_check(orders)
            lot = self._decide(orders, fixtures, uow.wallets.balances(payers) if payers else None)
            if lot.sales:
                uow.sales.record(lot.sales, orders[0].now, lot.jobs)
                uow.commit()
        return self._written(lot)

    async def _write_lot_async(
        self, ledger: AsyncSaleLedger, orders: Sequence[_Order]
    ) -> list[Bought | Exception]:
        fixtures = await ledger.fixtures({order.command.fixture_id for order in orders})
        payers = _payers_to_check(orders)
        lot = self._decide(orders, fixtures, await ledger.balances(payers) if payers else None)
        if lot.sales:
            await ledger.record(lot.sales, orders[0].now, lot.jobs)
        return self._written(lot)

    def _decide(
        self,
        orders: Sequence[_Order],
        fixtures: dict[int, Fixture],
        balances: dict[str, int] | None,
    ) -> _Lot:
        """What a lot writes, and each order's answer, from what the database holds."""
        rules = self._context.rules
        lot = _Lot()
        taken: dict[int, int] = {}  # bonds of each fixture this lot takes
        spent: dict[str, int] = {}  # money of each wallet this lot takes
        # by user: two lots (two API processes) debit the same wallets in the same order
        for i in sorted(range(len(orders)), key=lambda i: orders[i].command.user_id):
            order = orders[i]
            command = order.command
            cost = command.quantity * rules.bond_price
            try:
                fixture = _on_sale(
                    command,
                    fixtures.get(command.fixture_id),
                    order.now,
                    taken.get(command.fixture_id, 0),
                )
                if command.wallet and balances is not None:
                    left = balances.get(command.user_id, 0) - spent.get(command.user_id, 0)
                    if left < cost:
                        raise NotEnoughMoney(command.user_id, cost)
            except GoatError as error:
                lot.answers[i] = error
                continue
            purchase = self._purchase(order, fixture)
            debit = cost if command.wallet else 0
            lot.sales.append(Sale(purchase, debit, render_request(purchase, fixture)))
            spent[command.user_id] = spent.get(command.user_id, 0) + debit
            taken[fixture.id] = taken.get(fixture.id, 0) + command.quantity
            lot.answers[i] = Bought(purchase, order.payment, FixtureSummary.of(fixture))
        # one recompute per buyer of the lot, decided with the purchases and written in
        # the same go (the job outbox costs the lot no round trip)
        buyers = sorted({sale.purchase.user_id or "" for sale in lot.sales})
        lot.jobs.extend(Recommend(user_id) for user_id in buyers)
        return lot

    def _written(self, lot: _Lot) -> list[Bought | Exception]:
        """After a lot's commit: the relays woken, one log line, each order's answer."""
        if lot.sales:
            self._context.jobs_queued()  # the lot added a Recommend job for its buyers
            # one line per transaction: a line per purchase costs more than its write
            log.info(
                "purchases written: %s",
                ", ".join(
                    f"{s.purchase.request_id} ({s.purchase.quantity} of fixture "
                    f"{s.purchase.fixture_id} by {'wallet' if s.debit else 'webpay'})"
                    for s in lot.sales
                ),
            )
        return [lot.answers[i] for i in range(len(lot.answers))]

    def _purchase(self, order: _Order, fixture: Fixture) -> Purchase:
        command, payment = order.command, order.payment
        return Purchase(
            request_id=order.request_id,
            group_id=self._context.rules.group_id,
            fixture_id=fixture.id,
            league_name=fixture.league.name,
            round=fixture.league.round,
            date=fixture.kickoff.date().isoformat(),
            result=order.result,
            quantity=command.quantity,
            reserved=command.quantity,
            wallet=command.wallet,
            created_at=order.now,
            status=PurchaseStatus.PENDING if command.wallet else PurchaseStatus.PENDING_PAYMENT,
            deposit_token=payment.token if payment else "",
            seller=command.seller,
            user_id=command.user_id,
            buy_order=order.buy_order,
            payment_url=payment.url if payment else None,
            location=order.location,
            updated_at=order.now,
        )


@attrs.define
class _Lot:
    """What a lot writes, and each order's answer (by the order's position)."""

    answers: dict[int, Bought | Exception] = attrs.Factory(dict)
    sales: list[Sale] = attrs.Factory(list)
    jobs: list[Job] = attrs.Factory(list)


def _payers_to_check(orders: Sequence[_Order]) -> set[str]:
    """The wallets to read before a lot: checked up front, so that one broke buyer does
    not fail the lot; a lot of one needs no check, its failure is its answer."""
    if len(orders) < 2:
        return set()
    return {order.command.user_id for order in orders if order.command.wallet}


def _plain_outcome(result: Outcome | str) -> Outcome | None:
    """The outcome ``result`` names without its fixture (not a team's name), or None."""
    return result if isinstance(result, Outcome) else Outcome.parse(result)


def _on_sale(command: BuyBonds, fixture: Fixture | None, now: datetime, taken: int = 0) -> Fixture:
    """The fixture, if the command may buy its bonds now (``taken`` are gone already)."""
    if fixture is None:
        raise UnknownFixture(command.fixture_id)
    if fixture.has_started(now):
        raise FixtureStarted(fixture.id)
    left = fixture.available_bonds
    if left is not None and left - taken < command.quantity:
        raise NotEnoughBonds(fixture.id, command.quantity)
    return fixture
