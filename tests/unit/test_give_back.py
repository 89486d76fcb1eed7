"""Giving back money Webpay took for a purchase that ended not accepted: once, never guessed."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from goat_adapters.memory import InMemoryPaymentGateway
from goat_core.errors import Unavailable
from goat_core.model import PaymentConfirmation, PaymentStart, Purchase, PurchaseStatus
from goat_core.services import Exchange, PaymentReturn
from tests.unit.support import USER, World


class Webpay:
    """The memory gateway seen by one API process, with what a test makes happen meanwhile.

    ``during_commit`` (``during_status``) runs once inside a commit that took the money
    (a status read): another process's request; ``amount`` is what the provider says was
    paid; ``refund_lost`` makes a refund happen but its answer time out,
    ``refund_unreachable`` makes it not happen; ``refunds_asked`` counts refund calls.
    """

    def __init__(self, inner: InMemoryPaymentGateway) -> None:
        self.inner = inner
        self.during_commit: Callable[[], object] | None = None
        self.amount: int | None = None
        self.refund_lost = False
        self.refund_unreachable = False
        self.during_status: Callable[[], object] | None = None
        self.refunds_asked = 0

    def start(self, buy_order: str, session_id: str, amount: int, return_url: str) -> PaymentStart:
        return self.inner.start(buy_order, session_id, amount, return_url)  # pragma: no cover

    def commit(self, token: str) -> PaymentConfirmation:
        confirmation = self.inner.commit(token)
        if self.during_commit is not None:
            run, self.during_commit = self.during_commit, None
            run()
        return self._paid(confirmation)

    def status(self, token: str) -> PaymentConfirmation | None:
        known = self.inner.status(token)
        if self.during_status is not None:
            run, self.during_status = self.during_status, None
            run()
        return None if known is None else self._paid(known)

    def refund(self, token: str, amount: int) -> bool:
        self.refunds_asked += 1
        if self.refund_unreachable:
            raise Unavailable("Transbank did not answer the refund")
        done = self.inner.refund(token, amount)
        if self.refund_lost:
            raise Unavailable("Transbank did not answer the refund in time")
        return done

    def _paid(self, confirmation: PaymentConfirmation) -> PaymentConfirmation:
        if self.amount is None or not confirmation.authorized:
            return confirmation
        return attrs.evolve(confirmation, amount=self.amount)


def _process(world: World, webpay: Webpay) -> Exchange:
    """Another API process: its own exchange on the same database and provider."""
    return Exchange(
        uow=world.store.unit_of_work,
        payments=webpay,
        jobs=world.jobs,
        clock=world.clock,
        ids=world.ids,
        rules=world.rules,
    )


def _bought(world: World) -> Purchase:
    return world.buy(USER, 1, quantity=2, wallet=False).purchase


def test_two_processes_deciding_one_wrong_payment_give_the_money_back_once(
    world: World,
) -> None:
    """The committing process and one that decided from the status give the money back once."""
    purchase = _bought(world)
    webpay = Webpay(world.payments)
    webpay.amount = 1500  # not the 2000 the purchase costs
    first, second = _process(world, webpay), _process(world, webpay)
    back = PaymentReturn(token=purchase.deposit_token)
    webpay.during_commit = lambda: second.commit_payment(USER, back)  # a reload, elsewhere

    final = first.commit_payment(USER, back)

    assert final.status is PurchaseStatus.REJECTED
    assert world.payments.refunded == [(purchase.deposit_token, 1500)]
    assert world.balance(USER) == 0


def test_a_commit_that_took_money_for_a_cancelled_purchase_gives_it_back(world: World) -> None:
    """A commit that wins the money after a cancel decided the purchase refunds it."""
    purchase = _bought(world)
    webpay = Webpay(world.payments)
    cancel = PaymentReturn(buy_order=purchase.buy_order, cancelled=True)
    webpay.during_commit = lambda: _process(world, webpay).commit_payment(USER, cancel)

    final = _process(world, webpay).commit_payment(
        USER, PaymentReturn(token=purchase.deposit_token)
    )

    assert final.status is PurchaseStatus.REJECTED
    assert world.payments.refunded == [(purchase.deposit_token, 2000)]
    assert world.balance(USER) == 0


def test_a_refund_the_provider_refuses_is_credited_to_the_wallet_once(world: World) -> None:
    """Where the provider refuses the refund, the wallet gets the money, and only once."""
    purchase = _bought(world)
    world.payments.refunds_refused = True
    webpay = Webpay(world.payments)
    webpay.amount = 1500
    back = PaymentReturn(token=purchase.deposit_token)
    webpay.during_commit = lambda: _process(world, webpay).commit_payment(USER, back)

    _process(world, webpay).commit_payment(USER, back)
    world.clock.advance(minutes=5)
    world.exchange.expire_payments()

    assert world.balance(USER) == 1500
    assert [entry.amount for entry in world.ledger(USER)] == [1500]


def test_a_refund_whose_answer_timed_out_credits_nothing(world: World) -> None:
    """A refund that happened but timed out is not credited; the relay then finds it reversed."""
    purchase = _bought(world)
    webpay = Webpay(world.payments)
    webpay.amount, webpay.refund_lost = 1500, True
    exchange = _process(world, webpay)

    exchange.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))
    assert world.balance(USER) == 0
    world.clock.advance(minutes=5)
    exchange.expire_payments()
    webpay.refund_lost = False
    exchange.expire_payments()

    assert world.payments.refunded == [(purchase.deposit_token, 1500)]
    assert world.balance(USER) == 0


def test_a_refund_that_never_reached_the_provider_is_retried_by_expiry(world: World) -> None:
    """A give-back left pending by an unreachable provider is refunded by a later expiry round."""
    purchase = _bought(world)
    webpay = Webpay(world.payments)
    webpay.amount, webpay.refund_unreachable = 1500, True
    exchange = _process(world, webpay)
    exchange.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))

    exchange.expire_payments()  # too soon: the claimant's own call may still be running
    world.clock.advance(minutes=5)
    exchange.expire_payments()  # still unreachable: still pending
    assert world.payments.refunded == []
    webpay.refund_unreachable = False
    exchange.expire_payments()  # retried a moment ago: left to that retry for a minute
    assert world.payments.refunded == []
    world.clock.advance(minutes=2)
    exchange.expire_payments()
    exchange.expire_payments()

    assert world.payments.refunded == [(purchase.deposit_token, 1500)]
    assert world.balance(USER) == 0


def test_one_expiry_round_at_a_time_retries_a_pending_give_back(world: World) -> None:
    """Two processes' expiry rounds at once: one retries the pending give-back, the other skips."""
    purchase = _bought(world)
    webpay = Webpay(world.payments)
    webpay.amount, webpay.refund_unreachable = 1500, True
    first, second = _process(world, webpay), _process(world, webpay)
    first.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))
    world.clock.advance(minutes=5)
    webpay.refund_unreachable, webpay.refunds_asked = False, 0
    webpay.during_status = second.expire_payments  # the other listener's round, meanwhile

    first.expire_payments()

    assert webpay.refunds_asked == 1
    assert world.payments.refunded == [(purchase.deposit_token, 1500)]
    assert world.balance(USER) == 0
