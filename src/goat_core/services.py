"""The use cases of the exchange.

``Exchange`` holds the ports and exposes one method per thing a user, a peer group or a
worker can make happen. Each method is one transaction (one unit of work); follow-up jobs
are queued only after it commits.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from goat_core.errors import (
    Busy,
    FixtureStarted,
    GoatError,
    InvalidInput,
    MalformedMessage,
    NotEnoughBonds,
    NotEnoughMoney,
    PaymentError,
    Unavailable,
    UnknownFixture,
    UnknownPurchase,
)
from goat_core.grouping import GroupCommit
from goat_core.model import (
    Fixture,
    LedgerKind,
    MatchState,
    Outcome,
    PaymentStart,
    PaymentStatus,
    Purchase,
    PurchaseStatus,
    Recommendation,
    Recommendations,
    RequestMessage,
    Rules,
    ValidationMessage,
    payout,
)
from goat_core.ports import (
    BrokerPublisher,
    Clock,
    Geolocator,
    IdGenerator,
    JobQueue,
    PaymentGateway,
    UnitOfWork,
    UnitOfWorkFactory,
)
from goat_core.wire import (
    TOPIC_AUCTIONS,
    TOPIC_HISTORY,
    TOPIC_INFO,
    TOPIC_REQUESTS,
    TOPIC_VALIDATION,
    parse_fixtures,
    parse_history,
    parse_request,
    parse_validation,
    render_request,
    render_validation,
)

log = logging.getLogger("goat.core")

PAYMENT_TIMEOUT = timedelta(minutes=15)
"""Webpay's payment page gives up after 10 minutes; a little more for the way back."""

JOB_RECOMMEND = "recommend"
JOB_RECEIPT = "receipt"


@attrs.frozen
class BuyBonds:
    """A user of our group buys ``quantity`` bonds on ``result`` of a fixture."""

    user_id: str
    fixture_id: int
    result: Outcome
    quantity: int
    wallet: bool
    return_url: str = ""
    ip: str | None = None


@attrs.frozen
class Bought:
    """A new purchase, and where to pay it when it is paid through Webpay."""

    purchase: Purchase
    payment: PaymentStart | None


@attrs.frozen
class _Order:
    """A ``BuyBonds`` on its way to the database, with what was settled before."""

    command: BuyBonds
    request_id: str
    now: datetime
    payment: PaymentStart | None
    buy_order: str | None
    location: str | None


@attrs.frozen
class PaymentReturn:
    """What the payment page sent back: a token, or only the buy order, and whether cancelled."""

    token: str | None = None
    buy_order: str | None = None
    cancelled: bool = False


@attrs.define
class Exchange:
    """The bond exchange of one group, over the ports it is given."""

    uow: UnitOfWorkFactory
    payments: PaymentGateway
    jobs: JobQueue
    clock: Clock
    ids: IdGenerator
    rules: Rules = attrs.Factory(Rules)
    geolocator: Geolocator | None = None
    _sales: GroupCommit[_Order, Purchase] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._sales = GroupCommit(self._sell)

    # -- fixtures ---------------------------------------------------------------------

    def ingest_fixtures(self, fixtures: Sequence[Fixture]) -> int:
        """Store fixtures from fixtures/info; new ones get the full count of bonds."""
        with self.uow() as uow:
            uow.fixtures.upsert_many(fixtures, self.rules.bonds_per_fixture, self.clock.now())
            uow.commit()
        return len(fixtures)

    def record_results(self, results: Sequence[MatchState]) -> int:
        """Apply fixtures/history: update each fixture, settle finished ones; return settled."""
        with self.uow() as uow:
            settled = self._record_results(uow, results)
            uow.commit()
        return settled

    # -- our purchases ----------------------------------------------------------------

    def buy_bonds(self, command: BuyBonds) -> Bought:
        """Reserve bonds for one of our users and announce the purchase.

        By wallet the cost is debited in the same transaction and the purchase waits for
        the course's validation (``pending``); otherwise a Webpay transaction is opened and
        the purchase waits for payment (``pending_payment``). Raises ``UnknownFixture``,
        ``FixtureStarted``, ``NotEnoughMoney`` or ``NotEnoughBonds`` and then changes nothing.
        Purchases that other threads make at the same moment are written in the same
        transaction (``goat_core.grouping``); each call still gets only its own outcome.
        """
        if command.quantity < 1:
            raise InvalidInput("quantity", "must be at least 1")
        if command.quantity > self.rules.bonds_per_fixture:
            raise InvalidInput("quantity", f"must be at most {self.rules.bonds_per_fixture}")
        now = self.clock.now()
        payment = None
        buy_order = None
        if not command.wallet:
            # no payment for what could not be sold (the lot checks again)
            with self.uow() as uow:
                self._on_sale(command, uow.fixtures.get(command.fixture_id), now)
            # A fresh id, never published (unlike the request id): a timed-out return names
            # the purchase by its buy order alone, so only the payer may know it. Webpay
            # caps it at 26; the tail is what tells sequential ids apart.
            buy_order = self.ids.new_id().replace("-", "")[-26:]
            # the session id travels in the return URL: a digest, not the user's id
            session = hashlib.sha256(command.user_id.encode()).hexdigest()[:32]
            cost = command.quantity * self.rules.bond_price
            payment = self.payments.start(buy_order, session, cost, command.return_url)
        order = _Order(
            command, self.ids.new_id(), now, payment, buy_order, self._locate(command.ip)
        )
        # with the purchases other threads make at the same moment, in one transaction
        purchase = self._sales.submit(order)
        self._enqueue(JOB_RECOMMEND, user_id=command.user_id)
        return Bought(purchase, payment)

    @staticmethod
    def _on_sale(
        command: BuyBonds, fixture: Fixture | None, now: datetime, taken: int = 0
    ) -> Fixture:
        """The fixture, if the command may buy its bonds now (``taken`` are gone already)."""
        if fixture is None:
            raise UnknownFixture(command.fixture_id)
        if fixture.has_started(now):
            raise FixtureStarted(fixture.id)
        left = fixture.available_bonds
        if left is not None and left - taken < command.quantity:
            raise NotEnoughBonds(fixture.id, command.quantity)
        return fixture

    def _sell(self, orders: Sequence[_Order]) -> list[Purchase | Exception]:
        """Write a lot of ``buy_bonds`` orders in one transaction (see ``GroupCommit``).

        An order whose fixture is unknown, started or short of bonds, or whose wallet is
        short of money, gets its error and the others go on; a purchase, debit or
        reservation that fails even so (another process got there first) raises, and nothing
        of the lot is kept. A busy or unreachable database is no one order's fault: every
        order of the lot gets that error at once (one by one, each would wait as long).
        """
        try:
            return self._write_lot(orders)
        except (Busy, Unavailable) as error:
            return [copy.copy(error) for _ in orders]  # each caller raises its own

    def _write_lot(self, orders: Sequence[_Order]) -> list[Purchase | Exception]:
        outcomes: dict[int, Purchase | Exception] = {}  # by the order's position
        taken: dict[int, int] = {}  # bonds of each fixture this lot takes
        spent: dict[str, int] = {}  # money of each wallet this lot takes
        with self.uow() as uow:
            fixtures = uow.fixtures.get_many({order.command.fixture_id for order in orders})
            # Wallets are checked up front so that one broke buyer does not fail the lot;
            # a lot of one needs no check: its failure is its outcome.
            payers = {order.command.user_id for order in orders if order.command.wallet}
            balances = uow.wallets.balances(payers) if payers and len(orders) > 1 else None
            # by user: two lots (two API processes) lock the same wallets in the same order
            for i in sorted(range(len(orders)), key=lambda i: orders[i].command.user_id):
                order = orders[i]
                command = order.command
                cost = command.quantity * self.rules.bond_price
                try:
                    fixture = self._on_sale(
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
                    outcomes[i] = error
                    continue
                purchase = self._purchase(order, fixture)
                uow.purchases.create(purchase)
                if command.wallet:
                    uow.wallets.debit(
                        command.user_id, cost, LedgerKind.PURCHASE, purchase.request_id, order.now
                    )
                    spent[command.user_id] = spent.get(command.user_id, 0) + cost
                uow.outbox.add(TOPIC_REQUESTS, render_request(purchase, fixture))
                taken[fixture.id] = taken.get(fixture.id, 0) + command.quantity
                outcomes[i] = purchase
            # the fixture rows are the hottest locks of the system: take them last, each
            # once, in id order (two lots never wait for each other crosswise)
            for fixture_id, quantity in sorted(taken.items()):
                uow.fixtures.reserve(fixture_id, quantity)
            uow.commit()  # raises what a deferred write above may not have raised yet
        written = [p for p in outcomes.values() if isinstance(p, Purchase)]
        if written:  # one line per transaction: a line per purchase costs more than its write
            log.info(
                "purchases written: %s",
                ", ".join(
                    f"{p.request_id} ({p.quantity} of fixture {p.fixture_id} by "
                    f"{'wallet' if p.wallet else 'webpay'})"
                    for p in written
                ),
            )
        return [outcomes[i] for i in range(len(orders))]

    def _purchase(self, order: _Order, fixture: Fixture) -> Purchase:
        command, payment = order.command, order.payment
        return Purchase(
            request_id=order.request_id,
            group_id=self.rules.group_id,
            fixture_id=fixture.id,
            league_name=fixture.league.name,
            round=fixture.league.round,
            date=fixture.kickoff.date().isoformat(),
            result=command.result,
            quantity=command.quantity,
            reserved=command.quantity,
            wallet=command.wallet,
            created_at=order.now,
            status=PurchaseStatus.PENDING if command.wallet else PurchaseStatus.PENDING_PAYMENT,
            deposit_token=payment.token if payment else "",
            user_id=command.user_id,
            buy_order=order.buy_order,
            payment_url=payment.url if payment else None,
            location=order.location,
            updated_at=order.now,
        )

    def top_up(self, user_id: str, amount: int) -> int:
        """Add money to a user's wallet; return the new balance."""
        if amount <= 0:
            raise InvalidInput("amount", "must be a positive integer")
        with self.uow() as uow:
            uow.users.get_or_create(user_id, None, None)
            balance = uow.wallets.credit(user_id, amount, LedgerKind.TOP_UP, None, self.clock.now())
            uow.commit()
        return balance

    def payment_for(self, user_id: str, request_id: str) -> PaymentStart:
        """Where the owner pays a purchase awaiting payment (opened once, then repeated)."""
        with self.uow() as uow:
            purchase = uow.purchases.get(request_id)
        if purchase is None or purchase.user_id != user_id:
            raise UnknownPurchase(request_id)
        if purchase.status != PurchaseStatus.PENDING_PAYMENT:
            raise InvalidInput("request_id", f"the purchase is {purchase.status}, not payable")
        if purchase.payment_url and purchase.deposit_token:
            return PaymentStart(purchase.payment_url, purchase.deposit_token)
        raise PaymentError(f"purchase {request_id} has no open payment")  # pragma: no cover

    def commit_payment(self, user_id: str, back: PaymentReturn) -> Purchase:
        """Settle the payment of one of our purchases when the user comes back from Webpay.

        Paid: ``accepted`` and our validation is announced. Refused, cancelled or timed
        out: ``rejected``, the bonds go back, and a negative validation is announced.
        Calling it again answers the same and changes nothing.
        """
        with self.uow() as uow:
            purchase = uow.purchases.find_by_payment(back.token, back.buy_order)
        if purchase is None or purchase.user_id != user_id:
            raise UnknownPurchase(back.token or back.buy_order or "")
        if (back.cancelled or not back.token) and back.buy_order != purchase.buy_order:
            # the token is public (our request carries it): cancelling takes the buy order
            raise UnknownPurchase(back.buy_order or back.token or "")
        if purchase.status != PurchaseStatus.PENDING_PAYMENT:
            return purchase
        outcome = PaymentStatus.CANCELLED
        captured = 0
        if back.token and not back.cancelled:
            try:
                result = self.payments.commit(back.token)
            except PaymentError:
                with self.uow() as uow:
                    again = uow.purchases.get(purchase.request_id)
                if again is not None and again.status != PurchaseStatus.PENDING_PAYMENT:
                    return again  # a concurrent commit won the race
                raise
            paid = result.authorized and result.amount == purchase.cost(self.rules)
            outcome = PaymentStatus.ACCEPTED if paid else PaymentStatus.REJECTED
            captured = result.amount if result.authorized else 0
        now = self.clock.now()
        accepted = outcome == PaymentStatus.ACCEPTED
        with self.uow() as uow:
            moved = uow.purchases.transition(
                purchase.request_id,
                {PurchaseStatus.PENDING_PAYMENT},
                PurchaseStatus.ACCEPTED if accepted else PurchaseStatus.REJECTED,
                now,
                payment_status=outcome,
            )
            if moved:
                if accepted:
                    self._settle_if_finished(uow, purchase.request_id)
                else:
                    uow.fixtures.release(purchase.fixture_id, purchase.reserved)
                message = ValidationMessage(purchase.request_id, self.rules.group_id, accepted)
                uow.outbox.add(TOPIC_VALIDATION, render_validation(message))
            if captured and not (moved and accepted):
                # Webpay took the money but the purchase is not accepted (a wrong amount, or
                # cancelled meanwhile): it goes to the wallet. Webpay commits a token once,
                # so this happens once.
                uow.wallets.credit(user_id, captured, LedgerKind.REFUND, purchase.request_id, now)
            uow.commit()
            final = uow.purchases.get(purchase.request_id)
        assert final is not None
        if moved:
            log.info("purchase %s: payment %s", purchase.request_id, outcome)
            if accepted:
                self._enqueue(JOB_RECEIPT, request_id=purchase.request_id)
        return final

    def expire_payments(self, timeout: timedelta = PAYMENT_TIMEOUT, batch: int = 100) -> int:
        """Cancel our Webpay purchases left unpaid longer than ``timeout``; return how many.

        Their bonds go back and a negative validation is announced, as for a cancel on
        the payment page. Webpay reverses a payment that goes uncommitted, so a payer who
        comes back after this finds the purchase cancelled and is not charged.
        """
        now = self.clock.now()
        with self.uow() as uow:
            stale = uow.purchases.awaiting_payment(now - timeout, batch)
        expired = 0
        for purchase in stale:
            with self.uow() as uow:
                if uow.purchases.transition(
                    purchase.request_id,
                    {PurchaseStatus.PENDING_PAYMENT},
                    PurchaseStatus.REJECTED,
                    now,
                    payment_status=PaymentStatus.CANCELLED,
                ):
                    uow.fixtures.release(purchase.fixture_id, purchase.reserved)
                    message = ValidationMessage(purchase.request_id, self.rules.group_id, False)
                    uow.outbox.add(TOPIC_VALIDATION, render_validation(message))
                    expired += 1
                uow.commit()
        if expired:
            log.info("cancelled %d purchases left unpaid for %s", expired, timeout)
        return expired

    # -- what other groups (and the course) say --------------------------------------

    def record_request(self, message: RequestMessage) -> Purchase | None:
        """Apply a fixtures/requests message; returns the purchase it created, if any."""
        with self.uow() as uow:
            created = self._record_request(uow, message)
            uow.commit()
        return created

    def apply_validation(self, message: ValidationMessage) -> bool:
        """Apply a fixtures/validation message; True if it decided a purchase or was parked."""
        with self.uow() as uow:
            changed = self._apply_validation(uow, message)
            uow.commit()
        self._after_validation(message, changed)
        return changed

    def receive(self, topic: str, payload: bytes | str) -> str:
        """Apply one broker message exactly once; return what happened.

        The answer is ``applied``, ``duplicate`` (this exact message was applied before),
        ``ignored`` (understood, nothing to change: our echo, a known purchase) or
        ``malformed`` (kept in the dead letters with the reason). Only an unavailable
        dependency raises, so that the message can be delivered again.
        """
        text = _text(payload)
        try:
            with self.uow() as uow:
                outcome, validation = self._receive(uow, topic, text)
                uow.commit()
        except (InvalidInput, UnknownFixture) as error:
            self.keep_dead_letter(topic, text, str(error))
            return "malformed"
        if validation is not None:
            self._after_validation(validation, outcome == "applied")
        return outcome

    def receive_many(self, messages: Sequence[tuple[str, bytes | str]]) -> list[str]:
        """Apply several broker messages in one transaction; answer as ``receive`` does for each.

        One commit for the lot is what lets a listener keep up with a busy broker. If any
        message of the lot cannot be applied, the lot is rolled back and each message is
        applied on its own, so a bad message never takes good ones down with it.
        """
        if len(messages) < 2:
            return [self.receive(topic, payload) for topic, payload in messages]
        outcomes: list[str] = []
        validations: list[tuple[ValidationMessage, bool]] = []
        try:
            with self.uow() as uow:
                for topic, payload in messages:
                    outcome, validation = self._receive(uow, topic, _text(payload))
                    outcomes.append(outcome)
                    if validation is not None:
                        validations.append((validation, outcome == "applied"))
                uow.commit()
        except (InvalidInput, UnknownFixture):
            return [self.receive(topic, payload) for topic, payload in messages]
        for validation, changed in validations:
            self._after_validation(validation, changed)
        return outcomes

    def _receive(
        self, uow: UnitOfWork, topic: str, text: str
    ) -> tuple[str, ValidationMessage | None]:
        key = f"{topic}:{hashlib.sha256(text.encode()).hexdigest()}"
        if not uow.inbox.remember(key):
            return "duplicate", None
        changed = True
        validation = None
        if topic == TOPIC_INFO:
            fixtures = parse_fixtures(text)
            uow.fixtures.upsert_many(fixtures, self.rules.bonds_per_fixture, self.clock.now())
        elif topic == TOPIC_REQUESTS:
            changed = self._record_request(uow, parse_request(text)) is not None
        elif topic == TOPIC_VALIDATION:
            validation = parse_validation(text)
            changed = self._apply_validation(uow, validation)
        elif topic == TOPIC_HISTORY:
            self._record_results(uow, parse_history(text))
        elif topic == TOPIC_AUCTIONS:
            uow.auctions.add(text, self.clock.now())
        else:
            raise MalformedMessage("topic", f"{topic!r} is not a topic goat reads")
        return ("applied" if changed else "ignored"), validation

    def keep_dead_letter(self, topic: str, payload: str, reason: str) -> None:
        """Keep a message that could not be applied, for an admin to inspect."""
        log.warning("kept malformed %s message: %s", topic, reason)
        with self.uow() as uow:
            uow.dead_letters.add(topic, payload, reason, self.clock.now())
            uow.commit()

    def relay_outbox(self, publisher: BrokerPublisher, batch: int = 100) -> int:
        """Publish queued messages oldest first, marking each sent once acknowledged.

        Stops at the first failure (``Unavailable`` propagates): what is not acknowledged
        stays queued and goes out on the next call, so nothing is lost, and order is kept.
        """
        with self.uow() as uow:
            messages = uow.outbox.pending(batch)
        sent = 0
        try:
            for message in messages:
                publisher.publish(message.topic, message.payload)
                with self.uow() as uow:
                    uow.outbox.mark_sent([message.id])
                    uow.commit()
                sent += 1
        finally:
            if sent:
                log.info("published %d outbox messages", sent)
        return sent

    # -- recommendations --------------------------------------------------------------

    def recommend(self, user_id: str) -> Recommendations:
        """Recompute and store a user's top three upcoming fixtures (CONTRACT §2)."""
        now = self.clock.now()
        with self.uow() as uow:
            won = uow.purchases.won_by_user(user_id)
            fixtures = uow.fixtures.get_many({p.fixture_id for p in won})
            hits: dict[str, int] = {}
            for p in won:
                fixture = fixtures.get(p.fixture_id)
                team = fixture.team_for(p.result) if fixture else None
                if team is not None:
                    hits[team.name] = hits.get(team.name, 0) + p.quantity
            items: tuple[Recommendation, ...] = ()  # nothing won yet: no fixture scores
            if hits:
                upcoming = uow.fixtures.upcoming(now)
                items = rank(upcoming, hits, uow.recommendations.get(user_id))
            fresh = Recommendations(user_id=user_id, updated_at=now, items=items)
            uow.recommendations.put(fresh)
            uow.commit()
        return fresh

    # -- internals: each runs inside the caller's unit of work ----------------------

    def _record_request(self, uow: UnitOfWork, message: RequestMessage) -> Purchase | None:
        uow.purchases.lock(message.request_id)  # its validation may be arriving right now
        if uow.purchases.get(message.request_id) is not None:
            return None  # a repeat, or our own purchase coming back from the broker
        if message.group_id == self.rules.group_id:
            log.warning("request %s claims our group but is not ours", message.request_id)
            return None
        fixture = uow.fixtures.get(message.fixture_id)
        if fixture is None:
            raise UnknownFixture(message.fixture_id)
        outcome = fixture.outcome_of(message.result)
        if outcome is None:
            raise MalformedMessage(
                "result",
                f"{message.result!r} is neither team of fixture {fixture.id}, '---',"
                " home, away nor draw",
            )
        now = self.clock.now()
        reserved = uow.fixtures.reserve_up_to(fixture.id, message.quantity)
        purchase = Purchase(
            request_id=message.request_id,
            group_id=message.group_id,
            fixture_id=fixture.id,
            league_name=message.league_name or fixture.league.name,
            round=message.round or fixture.league.round,
            date=message.date or fixture.kickoff.date().isoformat(),
            result=outcome,
            quantity=message.quantity,
            reserved=reserved,
            wallet=message.wallet,
            created_at=now,
            status=PurchaseStatus.PENDING,
            deposit_token=message.deposit_token,
            seller=message.seller,
            updated_at=now,
        )
        if not uow.purchases.add(purchase):
            uow.fixtures.release(fixture.id, reserved)  # lost a race with the same request
            return None
        if reserved < message.quantity:
            log.warning(
                "request %s of group %s: only %d of %d bonds were left",
                message.request_id,
                message.group_id,
                reserved,
                message.quantity,
            )
        parked = uow.parked.take(message.request_id)
        if parked is not None:
            self._apply_validation(uow, parked)
        return purchase

    def _apply_validation(self, uow: UnitOfWork, message: ValidationMessage) -> bool:
        purchase = uow.purchases.get(message.request_id)
        now = self.clock.now()
        if purchase is None:
            # Its request may be being recorded right now: wait for that, then look again,
            # so that the validation is either applied or parked where the request finds it.
            uow.purchases.lock(message.request_id)
            purchase = uow.purchases.get(message.request_id)
        if purchase is None:
            uow.parked.park(message, now)
            return True
        if purchase.status != PurchaseStatus.PENDING:
            return False  # already decided (first verdict wins), or awaiting our payment
        if message.valid:
            if not uow.purchases.transition(
                purchase.request_id, {PurchaseStatus.PENDING}, PurchaseStatus.ACCEPTED, now
            ):
                return False
            self._settle_if_finished(uow, purchase.request_id)
            return True
        if not uow.purchases.transition(
            purchase.request_id, {PurchaseStatus.PENDING}, PurchaseStatus.REJECTED, now
        ):
            return False
        if purchase.is_ours and purchase.wallet and purchase.user_id is not None:
            uow.wallets.credit(
                purchase.user_id,
                purchase.cost(self.rules),
                LedgerKind.REFUND,
                purchase.request_id,
                now,
            )
        uow.fixtures.release(purchase.fixture_id, purchase.reserved)
        return True

    def _after_validation(self, message: ValidationMessage, changed: bool) -> None:
        if not (changed and message.valid):
            return
        with self.uow() as uow:
            purchase = uow.purchases.get(message.request_id)
        if purchase is not None and purchase.is_ours:
            self._enqueue(JOB_RECEIPT, request_id=purchase.request_id)

    def _record_results(self, uow: UnitOfWork, results: Sequence[MatchState]) -> int:
        settled = 0
        now = self.clock.now()
        # by fixture id (stable), so that two listeners lock fixtures in the same order
        for result in sorted(results, key=lambda r: r.fixture_id):
            if result.is_final:
                uow.fixtures.lock(result.fixture_id)  # accepting waits, or we see it
            # (a late in-play result is refused by apply_result: it never reopens a fixture)
            if not uow.fixtures.apply_result(result, now) or not result.is_final:
                continue
            for purchase in uow.purchases.for_fixture(result.fixture_id, PurchaseStatus.ACCEPTED):
                settled += self._settle(uow, purchase)
        return settled

    def _settle_if_finished(self, uow: UnitOfWork, request_id: str) -> None:
        """A purchase accepted after its fixture ended is settled right away."""
        purchase = uow.purchases.get(request_id)
        if purchase is not None and purchase.status == PurchaseStatus.ACCEPTED:
            # a final result being recorded right now either waits for us (and then sees
            # this purchase accepted) or is seen by the read below
            uow.fixtures.lock(purchase.fixture_id)
            self._settle(uow, purchase)

    def _settle(self, uow: UnitOfWork, purchase: Purchase) -> int:
        fixture = uow.fixtures.get(purchase.fixture_id)
        if fixture is None or not fixture.is_finished:
            return 0
        now = self.clock.now()
        won = fixture.winner == purchase.result
        amount = 0
        if won and purchase.is_ours:
            odd = fixture.odds.for_outcome(purchase.result) if fixture.odds else Decimal(1)
            amount = payout(purchase.quantity, self.rules.bond_price, odd)
        moved = uow.purchases.transition(
            purchase.request_id,
            {PurchaseStatus.ACCEPTED},
            PurchaseStatus.WON if won else PurchaseStatus.LOST,
            now,
            payout=amount,
        )
        if not moved:
            return 0
        if amount and purchase.user_id is not None:
            uow.wallets.credit(
                purchase.user_id, amount, LedgerKind.PAYOUT, purchase.request_id, now
            )
        return 1

    def _locate(self, ip: str | None) -> str | None:
        if ip is None or self.geolocator is None:
            return None
        try:
            return self.geolocator.locate(ip)
        except GoatError:
            log.warning("could not locate %s", ip)
            return None

    def _enqueue(self, job: str, **arguments: str) -> None:
        # The purchase is committed and safe; a missing follow-up job is recoverable
        # (recommendations on demand, receipts on request), so an unreachable queue is
        # reported, not raised.
        try:
            self.jobs.enqueue(job, **arguments)
        except GoatError as error:
            log.error("could not queue %s %s: %s", job, arguments, error)


def _text(payload: bytes | str) -> str:
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload


def rank(
    upcoming: Sequence[Fixture], hits: dict[str, int], previous: Recommendations | None
) -> tuple[Recommendation, ...]:
    """The course formula: pond = hits × league_round / odd of the involved team; top 3.

    ``hits`` counts a user's won bonds by the team they backed. A fixture involving two
    backed teams adds both terms. Fixtures recommended last time move to the front.
    """
    scored = []
    for fixture in upcoming:
        pond = Decimal(0)
        for outcome, team in ((Outcome.HOME, fixture.home), (Outcome.AWAY, fixture.away)):
            count = hits.get(team.name, 0)
            if count and fixture.odds:
                pond += Decimal(count * fixture.league.round_number) / fixture.odds.for_outcome(
                    outcome
                )
        if pond > 0:
            scored.append(Recommendation(fixture.id, pond))
    scored.sort(key=lambda r: (-r.pond, r.fixture_id))
    top = scored[:3]
    before = {r.fixture_id for r in previous.items} if previous else set()
    return tuple(sorted(top, key=lambda r: r.fixture_id not in before))
