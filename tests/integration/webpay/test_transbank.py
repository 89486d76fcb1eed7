"""transbank-sdk end to end: the real SDK's HTTPS requests reach a local server speaking
Transbank's Webpay Plus REST API (``tests.servers.transbank``), under our use cases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from goat_adapters.memory.world import World, make_fixture
from goat_adapters.webpay.transbank import (
    TEST_API_KEY,
    TEST_COMMERCE_CODE,
    TransbankPaymentGateway,
)
from goat_core.errors import PaymentError, PaymentNotFinished, Unavailable
from goat_core.model import (
    PaymentConfirmation,
    PaymentStart,
    PaymentStatus,
    Purchase,
    PurchaseStatus,
)
from goat_core.services import Exchange, PaymentReturn
from goat_core.wire import TOPIC_VALIDATION
from tests.servers.transbank import FakeTransbank, running_transbank

USER = "auth0|alice"


@pytest.fixture
def bank(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTransbank]:
    """Transbank's integration servers, here, for its public test commerce."""
    with running_transbank(tmp_path, TEST_COMMERCE_CODE, TEST_API_KEY) as bank:
        for name, value in bank.environment().items():
            monkeypatch.setenv(name, value)
        yield bank


@pytest.fixture
def gateway(bank: FakeTransbank) -> TransbankPaymentGateway:
    """The adapter as ``GOAT_WEBPAY_ENV=integration`` builds it, with a short timeout."""
    return TransbankPaymentGateway.integration(timeout=1.0)


@pytest.fixture
def world(gateway: TransbankPaymentGateway) -> World:
    """An exchange on memory storage that pays through the SDK."""
    world = World()
    world.exchange = Exchange(
        uow=world.store.unit_of_work,
        payments=gateway,
        jobs=world.jobs,
        clock=world.clock,
        ids=world.ids,
        rules=world.rules,
    )
    world.add_fixtures(make_fixture(1))
    return world


def _bought(world: World, quantity: int = 2) -> Purchase:
    return world.buy(USER, 1, quantity=quantity, wallet=False).purchase


def _commit(world: World, purchase: Purchase) -> Purchase:
    return world.exchange.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))


def test_a_purchase_creates_a_transaction_with_our_order(world: World, bank: FakeTransbank) -> None:
    """Create sends our buy order, session, amount and return URL with the commerce's keys."""
    purchase = _bought(world, quantity=3)

    trade = bank.trades[purchase.deposit_token]
    assert (trade.buy_order, trade.amount, trade.return_url) == (
        purchase.buy_order,
        3000,
        "http://r.invalid",
    )
    assert purchase.payment_url == "https://webpay3gint.transbank.cl/webpayserver/initTransaction"


def test_an_approved_payment_is_accepted(world: World, bank: FakeTransbank) -> None:
    """The payer pays; the commit is authorized: accepted and our validation announced."""
    purchase = _bought(world)
    bank.pay(purchase.deposit_token)

    final = _commit(world, purchase)

    assert (final.status, final.payment_status) == (PurchaseStatus.ACCEPTED, PaymentStatus.ACCEPTED)
    assert world.published(TOPIC_VALIDATION)[0]["valid"] is True


def test_a_refused_payment_is_rejected(world: World, bank: FakeTransbank) -> None:
    """response_code -1: rejected, the bonds go back, nothing to refund."""
    purchase = _bought(world, quantity=3)
    bank.refuse(purchase.deposit_token)

    final = _commit(world, purchase)

    assert (final.status, final.payment_status) == (PurchaseStatus.REJECTED, PaymentStatus.REJECTED)
    assert world.available(1) == 40
    assert world.balance(USER) == 0


def test_a_cancel_return_is_never_committed(world: World, bank: FakeTransbank) -> None:
    """TBK_TOKEN with the buy order: cancelled without any call to commit."""
    purchase = _bought(world)
    back = PaymentReturn(token=purchase.deposit_token, buy_order=purchase.buy_order, cancelled=True)

    final = world.exchange.commit_payment(USER, back)

    assert final.payment_status is PaymentStatus.CANCELLED
    assert not any(method == "PUT" for method, _ in bank.calls)


def test_a_timeout_return_is_never_committed(world: World, bank: FakeTransbank) -> None:
    """Only the buy order (Webpay's page timed out): cancelled, no commit."""
    purchase = _bought(world)

    final = world.exchange.commit_payment(USER, PaymentReturn(buy_order=purchase.buy_order))

    assert final.payment_status is PaymentStatus.CANCELLED
    assert not any(method == "PUT" for method, _ in bank.calls)


def test_a_double_return_commits_once(world: World, bank: FakeTransbank) -> None:
    """The same token_ws twice: one commit at Transbank, the same answer twice."""
    purchase = _bought(world)
    bank.pay(purchase.deposit_token)

    first, again = _commit(world, purchase), _commit(world, purchase)

    assert first == again
    assert [m for m, _ in bank.calls].count("PUT") == 1


def test_a_commit_answered_422_keeps_the_first_outcome(world: World, bank: FakeTransbank) -> None:
    """Transbank says 422 (committed already, elsewhere): the status decides, refused here."""
    purchase = _bought(world)
    bank.refuse(purchase.deposit_token)
    bank.trades[purchase.deposit_token].committed = True
    bank.trades[purchase.deposit_token].status = "FAILED"

    final = _commit(world, purchase)

    assert final.payment_status is PaymentStatus.REJECTED


def test_a_return_before_paying_says_so(world: World, bank: FakeTransbank) -> None:
    """Commit before the payer finished: 422 and INITIALIZED: PaymentNotFinished, pending."""
    purchase = _bought(world)

    with pytest.raises(PaymentNotFinished):
        _commit(world, purchase)
    assert world.purchase(purchase.request_id).status is PurchaseStatus.PENDING_PAYMENT


def test_transbank_down_during_commit_then_back(world: World, bank: FakeTransbank) -> None:
    """Down: Unavailable and still pending; slow (committed, answer lost): pending; back:
    the repeated commit gets 422 and the status accepts it."""
    purchase = _bought(world)
    bank.pay(purchase.deposit_token)
    bank.down = True
    with pytest.raises(Unavailable):
        _commit(world, purchase)
    bank.down, bank.delay = False, 1.5
    with pytest.raises(Unavailable):
        _commit(world, purchase)  # Transbank committed; our read timed out
    assert world.purchase(purchase.request_id).status is PurchaseStatus.PENDING_PAYMENT
    bank.delay = 0

    assert _commit(world, purchase).status is PurchaseStatus.ACCEPTED


def test_expiry_accepts_a_payment_authorized_without_a_return(
    world: World, bank: FakeTransbank
) -> None:
    """After 15 minutes the status is asked: an authorized payment is accepted (committed
    already with its answer lost, or paid by a payer who never came back), others cancelled."""
    paid, closed, abandoned = _bought(world), _bought(world), _bought(world, quantity=1)
    bank.pay(paid.deposit_token)
    bank.trades[paid.deposit_token].committed = True
    bank.trades[paid.deposit_token].status = "AUTHORIZED"
    bank.pay(closed.deposit_token)  # paid, then closed the browser: nobody committed
    world.clock.advance(minutes=16)

    assert world.exchange.expire_payments() == 3

    assert world.purchase(paid.request_id).status is PurchaseStatus.ACCEPTED
    assert world.purchase(closed.request_id).status is PurchaseStatus.ACCEPTED
    assert bank.trades[closed.deposit_token].committed
    assert world.purchase(abandoned.request_id).payment_status is PaymentStatus.CANCELLED


class _CancelledMeanwhile:
    """The adapter, with the payer's cancel decided (by another process) during a commit."""

    def __init__(self, gateway: TransbankPaymentGateway, world: World, back: PaymentReturn):
        self.gateway, self.world, self.back = gateway, world, back

    def start(self, buy_order: str, session_id: str, amount: int, return_url: str) -> PaymentStart:
        raise AssertionError("not started here")  # pragma: no cover

    def commit(self, token: str) -> PaymentConfirmation:
        confirmation = self.gateway.commit(token)
        self.world.exchange.commit_payment(USER, self.back)  # cancelled while we committed
        return confirmation

    def status(self, token: str) -> PaymentConfirmation | None:
        return self.gateway.status(token)  # pragma: no cover

    def refund(self, token: str, amount: int) -> bool:
        return self.gateway.refund(token, amount)


def test_money_for_a_purchase_cancelled_meanwhile_is_refunded(
    world: World, bank: FakeTransbank, gateway: TransbankPaymentGateway
) -> None:
    """A payment committed for a purchase that ended cancelled is refunded through Transbank."""
    purchase = _bought(world)
    bank.pay(purchase.deposit_token)
    cancel = PaymentReturn(buy_order=purchase.buy_order, cancelled=True)
    committing = Exchange(
        uow=world.store.unit_of_work,
        payments=_CancelledMeanwhile(gateway, world, cancel),
        jobs=world.jobs,
        clock=world.clock,
        ids=world.ids,
        rules=world.rules,
    )

    final = committing.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))

    assert final.payment_status is PaymentStatus.CANCELLED
    assert bank.trades[purchase.deposit_token].status == "REVERSED"
    assert world.balance(USER) == 0
    assert gateway.refund(purchase.deposit_token, 2000) is False  # once only


def test_bad_credentials_are_unavailable_and_unknown_tokens_payment_errors(
    bank: FakeTransbank, gateway: TransbankPaymentGateway
) -> None:
    """401 is Unavailable, 422 and the SDK's own checks PaymentError; no SDK exception leaks."""
    wrong = TransbankPaymentGateway("597000000000", "nope", production=False, timeout=1.0)

    with pytest.raises(Unavailable):
        wrong.start("order", "session", 1000, "http://r.invalid")
    with pytest.raises(PaymentError):
        gateway.status("0" * 64)
    with pytest.raises(PaymentError):
        gateway.commit("x" * 65)  # the SDK's own check


def test_expiry_after_a_key_rotation_cancels_nothing(world: World, bank: FakeTransbank) -> None:
    """Transbank answering 401 to expiry's status leaves a stale purchase pending, uncancelled."""
    purchase = _bought(world)
    bank.pay(purchase.deposit_token)
    rotated = Exchange(
        uow=world.store.unit_of_work,
        payments=TransbankPaymentGateway("597000000000", "old", production=False, timeout=1.0),
        jobs=world.jobs,
        clock=world.clock,
        ids=world.ids,
        rules=world.rules,
    )
    world.clock.advance(minutes=16)

    assert rotated.expire_payments() == 0

    assert world.purchase(purchase.request_id).status is PurchaseStatus.PENDING_PAYMENT
    assert world.exchange.expire_payments() == 1  # the right key: the payment is accepted
    assert world.purchase(purchase.request_id).status is PurchaseStatus.ACCEPTED


def test_an_authorized_answer_without_an_amount_is_not_zero(
    world: World, bank: FakeTransbank, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An authorized commit whose answer lacks the amount is Unavailable, never an amount of 0."""
    purchase = _bought(world)
    bank.pay(purchase.deposit_token)
    shape = FakeTransbank._shape

    def without_amount(trade: Any) -> dict[str, Any]:
        answer = shape(trade)
        del answer["amount"]
        return answer

    monkeypatch.setattr(FakeTransbank, "_shape", staticmethod(without_amount))

    with pytest.raises(Unavailable):
        world.exchange.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))
    assert world.purchase(purchase.request_id).status is PurchaseStatus.PENDING_PAYMENT
    assert world.balance(USER) == 0
