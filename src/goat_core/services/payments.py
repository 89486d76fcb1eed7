"""Paying our purchases through Webpay: where to pay, the payer's return, expiry.

The gateway is called between transactions, never inside one: a slow provider must not
hold a database lock. Committing a payment is a read (which purchase), the gateway's
confirmation, and one transaction that records the decision and announces it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import attrs

from goat_core.errors import InvalidInput, PaymentError, UnknownPurchase
from goat_core.jobs import MakeReceipt, SendEmail
from goat_core.model import (
    LedgerKind,
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
        """Cancel our Webpay purchases left unpaid longer than ``timeout``; return how many.

        Their bonds go back and a negative validation is announced, as for a cancel on
        the payment page. Webpay reverses a payment that goes uncommitted, so a payer who
        comes back after this finds the purchase cancelled and is not charged.
        """
        context = self._context
        now = context.clock.now()
        with context.uow() as uow:
            stale = uow.purchases.awaiting_payment(now - timeout, batch)
        expired = 0
        for purchase in stale:
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
            log.info("cancelled %d purchases left unpaid for %s", expired, timeout)
            context.jobs_queued()  # the buyers' emails
        return expired

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
        status = PaymentStatus.CANCELLED
        captured = 0
        if back.token and not back.cancelled:
            try:
                confirmation = self._gateway.commit(back.token)
            except PaymentError:
                with self._context.uow() as uow:
                    again = uow.purchases.get(purchase.request_id)
                if again is not None and again.status != PurchaseStatus.PENDING_PAYMENT:
                    return again  # a concurrent commit won the race
                raise
            paid = confirmation.authorized and confirmation.amount == purchase.cost(
                self._context.rules
            )
            status = PaymentStatus.ACCEPTED if paid else PaymentStatus.REJECTED
            captured = confirmation.amount if confirmation.authorized else 0
        return self._record(purchase, status, captured)

    def _record(self, purchase: Purchase, status: PaymentStatus, captured: int) -> Purchase:
        """One transaction: the purchase decided, its announcement, any money given back."""
        context = self._context
        now = context.clock.now()
        accepted = status == PaymentStatus.ACCEPTED
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
                self._announce(uow.outbox, purchase, accepted=accepted)
            if captured and not (moved and accepted) and purchase.user_id is not None:
                # Webpay took the money but the purchase is not accepted (a wrong amount, or
                # cancelled meanwhile): it goes to the wallet. Webpay commits a token once,
                # so this happens once.
                uow.wallets.credit(
                    purchase.user_id, captured, LedgerKind.REFUND, purchase.request_id, now
                )
            uow.commit()
            final = uow.purchases.get(purchase.request_id)
        assert final is not None
        if moved:
            log.info("purchase %s: payment %s", purchase.request_id, status)
            context.jobs_queued()  # its receipt and email
        return final

    def _announce(self, outbox: Outbox, purchase: Purchase, *, accepted: bool) -> None:
        group = self._context.rules.group_id
        message = ValidationMessage(purchase.request_id, group, accepted, purchase.seller)
        outbox.add(TOPIC_VALIDATION, render_validation(message))
