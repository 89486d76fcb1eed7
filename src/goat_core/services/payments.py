"""Paying our purchases through Webpay: where to pay, the payer's return, expiry.

The gateway is called between transactions, never inside one: a slow provider must not
hold a database lock. Committing a payment is a read (which purchase), the gateway's
confirmation, and one transaction that records the decision and announces it.

Nothing is guessed: a provider that cannot be reached leaves the purchase
``pending_payment`` (``Unavailable``), to be resolved by a later return or by expiry,
which asks the provider's status first. A repeated commit (refused by Webpay) is answered
with the transaction's first outcome, read through its status. Money the provider took
for a purchase that ends rejected is claimed once in the database (whichever process
asks), then refunded through the provider, or credited to the buyer's wallet when the
provider refuses; a refund without an answer stays pending until ``expire_payments``
reads the transaction's status and finishes it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import attrs

from goat_core.errors import (
    InvalidInput,
    PaymentError,
    PaymentNotFinished,
    Unavailable,
    UnknownPurchase,
)
from goat_core.jobs import MakeReceipt, SendEmail
from goat_core.model import (
    LedgerKind,
    PaymentConfirmation,
    PaymentStart,
    PaymentStatus,
    Purchase,
    PurchaseStatus,
    ValidationMessage,
)
from goat_core.ports import Outbox, PaymentGateway
from goat_core.services.context import Context
from goat_core.services.settlement import settle_if_finished
from goat_core.wire import TOPIC_VALIDATION, render_validation

__all__ = ["PAYMENT_TIMEOUT", "PaymentReturn", "Payments", "payment_answer"]

log = logging.getLogger("goat.core")

PAYMENT_TIMEOUT = timedelta(minutes=15)
"""Webpay's payment page gives up after 10 minutes; a little more for the way back."""
GIVE_BACK_GRACE = timedelta(minutes=1)
"""How long a claimed give-back is left to its claimant (a refund call takes at most 10 s)
before the relay finishes it: two refunds of one payment at once would credit the wallet."""


@attrs.frozen
class PaymentReturn:
    """What the payment page sent back: a token, or only the buy order, and whether cancelled."""

    token: str | None = None
    buy_order: str | None = None
    cancelled: bool = False


def payment_answer(purchase: Purchase) -> str:
    """What a payer is told of their payment: accepted, rejected, cancelled, or the status."""
    if purchase.payment_status is not None:
        return purchase.payment_status.value
    if purchase.status == PurchaseStatus.REJECTED:
        return PaymentStatus.REJECTED.value
    return purchase.status.value


class Payments:
    """Webpay payments of our users' purchases."""

    def __init__(self, context: Context, gateway: PaymentGateway) -> None:
        self._context = context
        self._gateway = gateway

    def payment_for(self, user_id: str, request_id: str) -> PaymentStart:
        """Where the owner pays a purchase awaiting payment (opened once, then repeated)."""
        with self._context.uow() as uow:
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
        purchase = self._paid_by(back)
        if purchase.user_id != user_id:
            raise UnknownPurchase(back.token or back.buy_order or "")
        return self._settle(purchase, back)

    def commit_return(self, back: PaymentReturn) -> Purchase:
        """``commit_payment`` for a browser coming back without a bearer token.

        The Webpay token (or, to cancel, the buy order) is the capability: only the payer
        was given it.
        """
        return self._settle(self._paid_by(back), back)

    def expire_payments(self, timeout: timedelta = PAYMENT_TIMEOUT, batch: int = 100) -> int:
        """Resolve our Webpay purchases left unpaid longer than ``timeout``; return how many.

        The provider is asked first: a payment it authorized while the payer's return
        never came is committed and accepted (a refused one rejected). Otherwise the
        purchase is cancelled: its bonds go back and a negative validation is announced,
        as for a cancel on the payment page; Webpay reverses a payment that goes
        uncommitted, so a payer who comes back after this is not charged. A provider that
        cannot be reached leaves the purchase for the next round. Money owed back whose
        refund got no answer is given back now (the provider's status read first).
        """
        context = self._context
        now = context.clock.now()
        with context.uow() as uow:
            stale = uow.purchases.awaiting_payment(now - timeout, batch)
        expired = 0
        for purchase in stale:
            try:
                confirmation, committed = self._late_outcome(purchase)
            except Unavailable as error:
                log.warning("purchase %s stays unpaid for now: %s", purchase.request_id, error)
                continue
            if confirmation is not None:
                final = self._decide(purchase, confirmation, committed=committed)
                expired += final.status != PurchaseStatus.PENDING_PAYMENT
                continue
            with context.uow() as uow:
                if uow.purchases.transition(
                    purchase.request_id,
                    {PurchaseStatus.PENDING_PAYMENT},
                    PurchaseStatus.REJECTED,
                    now,
                    payment_status=PaymentStatus.CANCELLED,
                ):
                    uow.fixtures.release(purchase.fixture_id, purchase.reserved)
                    self._announce(uow.outbox, purchase, accepted=False)
                    uow.jobs.add(SendEmail(purchase.request_id, "rejected"))
                    expired += 1
                uow.commit()
        if expired:
            log.info("resolved %d purchases left unpaid for %s", expired, timeout)
            context.jobs_queued()  # the buyers' emails
        self._finish_give_backs(batch)
        return expired

    def _late_outcome(self, purchase: Purchase) -> tuple[PaymentConfirmation | None, bool]:
        """What the provider says of a purchase whose return never came, and whether we
        committed it now (only then may its money be ours to give back).

        A payer who paid and closed the browser left an authorized transaction nobody
        committed (Webpay reverses those): it is committed now. A refused one is refused.
        """
        token = purchase.deposit_token
        if not token:
            return None, False
        try:
            known = self._gateway.status(token)
        except PaymentError:  # a token the provider forgot: never authorized for us
            return None, False
        if known is not None and not known.authorized:
            return known, False
        try:
            return self._gateway.commit(token), True
        except PaymentError:  # committed already (a return whose answer was lost), or unpaid
            return known, False

    def _paid_by(self, back: PaymentReturn) -> Purchase:
        """The purchase a return names; a cancel must name its (secret) buy order."""
        with self._context.uow() as uow:
            purchase = uow.purchases.find_by_payment(back.token, back.buy_order)
        if purchase is None or purchase.user_id is None:
            raise UnknownPurchase(back.token or back.buy_order or "")
        if (back.cancelled or not back.token) and back.buy_order != purchase.buy_order:
            # the token is public (our request carries it): cancelling takes the buy order
            raise UnknownPurchase(back.buy_order or back.token or "")
        return purchase

    def _settle(self, purchase: Purchase, back: PaymentReturn) -> Purchase:
        if purchase.status != PurchaseStatus.PENDING_PAYMENT:
            return purchase
        if not back.token or back.cancelled:
            return self._record(purchase, PaymentStatus.CANCELLED, 0, refund=False)
        try:
            confirmation = self._gateway.commit(back.token)
        except PaymentError as refused:
            with self._context.uow() as uow:
                again = uow.purchases.get(purchase.request_id)
            if again is not None and again.status != PurchaseStatus.PENDING_PAYMENT:
                return again  # a concurrent commit won the race
            # A token commits once: Webpay refuses a repeated commit (another process's,
            # or ours whose answer was lost); the first outcome is the transaction's status.
            known = self._gateway.status(back.token)
            if known is None:
                raise PaymentNotFinished(
                    f"the payer has not finished paying purchase {purchase.request_id}"
                ) from refused
            return self._decide(purchase, known, committed=False)
        return self._decide(purchase, confirmation, committed=True)

    def _decide(
        self, purchase: Purchase, confirmation: PaymentConfirmation, *, committed: bool
    ) -> Purchase:
        """Record what the provider said; ``committed``: this call's commit took the money."""
        paid = confirmation.authorized and confirmation.amount == purchase.cost(self._context.rules)
        status = PaymentStatus.ACCEPTED if paid else PaymentStatus.REJECTED
        captured = confirmation.amount if confirmation.authorized else 0
        return self._record(purchase, status, captured, refund=committed)

    def _record(
        self, purchase: Purchase, status: PaymentStatus, captured: int, *, refund: bool
    ) -> Purchase:
        """One transaction: the purchase decided, its announcement; then any money given back.

        Money taken for a purchase that ends not accepted (a wrong amount, or cancelled
        meanwhile) is owed back by whoever decided it and by the caller whose commit took
        it (``refund``); several such callers (processes) race for one claim in the
        database, and only the winner gives the money back.
        """
        context = self._context
        now = context.clock.now()
        accepted = status == PaymentStatus.ACCEPTED
        claimed = False
        with context.uow() as uow:
            moved = uow.purchases.transition(
                purchase.request_id,
                {PurchaseStatus.PENDING_PAYMENT},
                PurchaseStatus.ACCEPTED if accepted else PurchaseStatus.REJECTED,
                now,
                payment_status=status,
            )
            if moved:
                if accepted:
                    uow.jobs.add(
                        MakeReceipt(purchase.request_id), SendEmail(purchase.request_id, "accepted")
                    )
                    settle_if_finished(uow, purchase.request_id, context.rules, now)
                else:
                    uow.fixtures.release(purchase.fixture_id, purchase.reserved)
                    uow.jobs.add(SendEmail(purchase.request_id, "rejected"))
                    # claimed with the decision: a process dying now leaves it pending
                    claimed = bool(captured) and uow.purchases.claim_give_back(
                        purchase.request_id, captured, now
                    )
                self._announce(uow.outbox, purchase, accepted=accepted)
            uow.commit()
            final = uow.purchases.get(purchase.request_id)
        assert final is not None
        if moved:
            log.info("purchase %s: payment %s", purchase.request_id, status)
            context.jobs_queued()  # its receipt and email
        if claimed:
            self._return_money(purchase, captured)
        elif captured and final.status != PurchaseStatus.ACCEPTED and refund:
            self._give_back(purchase, captured)
        return final

    def _give_back(self, purchase: Purchase, amount: int) -> None:
        """Claim the money owed back (once, in the database, whichever process asks), then
        give it back; a caller whose claim changed nothing leaves it to the claimant."""
        context = self._context
        with context.uow() as uow:
            claimed = uow.purchases.claim_give_back(
                purchase.request_id, amount, context.clock.now()
            )
            uow.commit()
        if claimed:
            self._return_money(purchase, amount)

    def _return_money(self, purchase: Purchase, amount: int) -> None:
        """Refund through the provider; where it refuses, the wallet. Unreachable: the
        refund may have happened, so nothing is credited and the give-back stays pending."""
        try:
            refunded = self._gateway.refund(purchase.deposit_token, amount)
            reason = "the provider refused the refund"
        except Unavailable as error:
            log.warning(
                "purchase %s: the give-back of %d CLP is pending (%s); retried by the relay",
                purchase.request_id,
                amount,
                error,
            )
            return
        except PaymentError as error:
            refunded, reason = False, f"the provider could not refund: {error}"
        self._close_give_back(purchase, amount, credit=not refunded, reason=reason)

    def _close_give_back(
        self, purchase: Purchase, amount: int, *, credit: bool, reason: str
    ) -> None:
        """Mark the give-back done and, when the provider did not refund, credit the wallet
        in the same transaction (only if this call closed it)."""
        context = self._context
        with context.uow() as uow:
            closed = uow.purchases.give_back_done(purchase.request_id)
            credited = closed and credit and purchase.user_id is not None
            if credited:
                assert purchase.user_id is not None
                uow.wallets.credit(
                    purchase.user_id,
                    amount,
                    LedgerKind.REFUND,
                    purchase.request_id,
                    context.clock.now(),
                )
            uow.commit()
        if credited:
            log.warning(
                "purchase %s: %d CLP credited to the wallet (%s)",
                purchase.request_id,
                amount,
                reason,
            )
        elif closed:
            log.info("purchase %s: %d CLP given back by the provider", purchase.request_id, amount)

    def _finish_give_backs(self, batch: int) -> None:
        """Give back money whose refund got no answer (or whose process died): the
        provider's status first (reversed or nullified means done), else refund again."""
        context = self._context
        with context.uow() as uow:
            stale = context.clock.now() - GIVE_BACK_GRACE
            owed = uow.purchases.give_backs_pending(stale, batch)
        for purchase, amount in owed:
            with context.uow() as uow:  # one retrying process at a time (expiry runs in each)
                retaken = uow.purchases.claim_give_back(
                    purchase.request_id, amount, context.clock.now(), stale_before=stale
                )
                uow.commit()
            if not retaken:
                continue
            try:
                known = self._gateway.status(purchase.deposit_token)
            except Unavailable as error:
                log.warning("purchase %s: give-back still pending: %s", purchase.request_id, error)
                continue
            except PaymentError:  # a token the provider forgot: a refund decides
                known = None
            if known is not None and not known.authorized:
                self._close_give_back(purchase, amount, credit=False, reason="reversed")
            else:
                self._return_money(purchase, amount)

    def _announce(self, outbox: Outbox, purchase: Purchase, *, accepted: bool) -> None:
        group = self._context.rules.group_id
        message = ValidationMessage(purchase.request_id, group, accepted, purchase.seller)
        outbox.add(TOPIC_VALIDATION, render_validation(message))
