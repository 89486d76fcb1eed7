"""Committing Webpay payments of our purchases (POST /webpay/commit)."""

from __future__ import annotations

import pytest

from goat_core.errors import (
    InvalidInput,
    PaymentError,
    PaymentNotFinished,
    Unavailable,
    UnknownPurchase,
)
from goat_core.jobs import MakeReceipt
from goat_core.model import (
    PaymentConfirmation,
    PaymentStart,
    PaymentStatus,
    Purchase,
    PurchaseStatus,
)
from goat_core.services import Exchange, PaymentReturn
from goat_core.wire import TOPIC_VALIDATION
from tests.unit.support import OTHER_USER, USER, World


def _webpay(world: World, quantity: int = 2) -> Purchase:
    return world.buy(USER, 1, quantity=quantity, wallet=False).purchase


def test_paid_purchase_is_accepted_and_announced(world: World) -> None:
    """An authorized payment accepts the purchase, publishes valid=true and queues a receipt."""
    purchase = _webpay(world)

    final = world.exchange.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))

    assert final.status is PurchaseStatus.ACCEPTED
    assert final.payment_status is PaymentStatus.ACCEPTED
    assert world.published(TOPIC_VALIDATION) == [
        {"request_id": purchase.request_id, "group_id": "15", "seller": 0, "valid": True}
    ]
    assert MakeReceipt(purchase.request_id) in world.relay_jobs()
    assert world.available(1) == 38
    assert world.ledger(USER) == []


def test_refused_payment_rejects_and_gives_bonds_back(world: World) -> None:
    """A refused payment rejects the purchase, releases its bonds and publishes valid=false."""
    purchase = _webpay(world)
    world.payments.refuse(purchase.deposit_token)

    final = world.exchange.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))

    assert final.status is PurchaseStatus.REJECTED
    assert final.payment_status is PaymentStatus.REJECTED
    assert world.available(1) == 40
    assert world.published(TOPIC_VALIDATION)[0]["valid"] is False
    assert not any(isinstance(job, MakeReceipt) for job in world.relay_jobs())
    assert world.ledger(USER) == []


def test_cancelled_payment_rejects_without_asking_the_provider(world: World) -> None:
    """A payment cancelled on the page is rejected as cancelled; nothing is committed."""
    purchase = _webpay(world)

    final = world.exchange.commit_payment(
        USER,
        PaymentReturn(token=purchase.deposit_token, buy_order=purchase.buy_order, cancelled=True),
    )

    assert final.status is PurchaseStatus.REJECTED
    assert final.payment_status is PaymentStatus.CANCELLED
    assert world.payments.committed == []
    assert world.available(1) == 40
    assert world.published(TOPIC_VALIDATION)[0]["valid"] is False


def test_timed_out_payment_is_found_by_buy_order(world: World) -> None:
    """A return with only the buy order (timeout) cancels the purchase it names."""
    purchase = _webpay(world)

    final = world.exchange.commit_payment(USER, PaymentReturn(buy_order=purchase.buy_order))

    assert final.request_id == purchase.request_id
    assert final.payment_status is PaymentStatus.CANCELLED
    assert world.payments.committed == []
    assert world.available(1) == 40


@pytest.mark.parametrize("refused", [False, True])
def test_committing_again_answers_the_same_and_changes_nothing(world: World, refused: bool) -> None:
    """A second commit returns the same purchase and publishes, releases or queues nothing."""
    purchase = _webpay(world)
    if refused:
        world.payments.refuse(purchase.deposit_token)
    back = PaymentReturn(token=purchase.deposit_token)
    first = world.exchange.commit_payment(USER, back)
    world.relay_jobs()
    before = world.snapshot()

    again = world.exchange.commit_payment(USER, back)

    assert again == first
    assert world.snapshot() == before
    assert world.relay_jobs() == []
    assert world.payments.committed == [purchase.deposit_token]


def test_cancel_after_payment_changes_nothing(world: World) -> None:
    """A late cancel for a purchase already paid leaves it accepted."""
    purchase = _webpay(world)
    world.exchange.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))

    final = world.exchange.commit_payment(USER, PaymentReturn(buy_order=purchase.buy_order))

    assert final.status is PurchaseStatus.ACCEPTED
    assert world.available(1) == 38


def test_another_user_cannot_commit(world: World) -> None:
    """Someone other than the buyer gets UnknownPurchase and the purchase stays unpaid."""
    purchase = _webpay(world)
    before = world.snapshot()

    with pytest.raises(UnknownPurchase):
        world.exchange.commit_payment(OTHER_USER, PaymentReturn(token=purchase.deposit_token))

    assert world.snapshot() == before
    assert world.payments.committed == []


def test_unknown_token_is_an_unknown_purchase(world: World) -> None:
    """A token that pays no purchase of ours is UnknownPurchase."""
    with pytest.raises(UnknownPurchase):
        world.exchange.commit_payment(USER, PaymentReturn(token="nope"))


def test_wrong_amount_is_a_refusal(world: World) -> None:
    """A payment authorized for another amount than the cost does not accept the purchase."""
    purchase = _webpay(world, quantity=2)
    buy_order, _ = world.payments.started[purchase.deposit_token]
    world.payments.started[purchase.deposit_token] = (buy_order, 1000)

    final = world.exchange.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))

    assert final.status is PurchaseStatus.REJECTED
    assert world.available(1) == 40


def test_provider_failure_propagates_and_changes_nothing(world: World) -> None:
    """When the provider cannot commit, PaymentError propagates and the purchase still waits."""
    purchase = _webpay(world)
    del world.payments.started[purchase.deposit_token]
    before = world.snapshot()

    with pytest.raises(PaymentError):
        world.exchange.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))

    assert world.snapshot() == before


def test_paid_after_the_fixture_ended_is_settled(world: World) -> None:
    """A payment committed after the final result settles the purchase at once."""
    purchase = _webpay(world, quantity=1)
    world.result(1, "FT", 1, 0)

    final = world.exchange.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))

    assert final.status is PurchaseStatus.WON
    assert world.balance(USER) == 1850


def test_payment_for_repeats_the_open_transaction(world: World) -> None:
    """payment_for gives the owner the URL and token opened at purchase time."""
    purchase = _webpay(world)

    start = world.exchange.payment_for(USER, purchase.request_id)

    assert (start.url, start.token) == (purchase.payment_url, purchase.deposit_token)
    with pytest.raises(UnknownPurchase):
        world.exchange.payment_for(OTHER_USER, purchase.request_id)


def test_payment_for_a_wallet_purchase_is_invalid(world: World) -> None:
    """A purchase not awaiting payment cannot be paid; the error names request_id."""
    world.fund(USER, 1000)
    request_id = world.buy(USER, 1, quantity=1).purchase.request_id

    with pytest.raises(InvalidInput) as raised:
        world.exchange.payment_for(USER, request_id)

    assert raised.value.field == "request_id"


def test_buy_orders_tell_purchases_apart(world: World) -> None:
    """Each Webpay purchase gets its own buy order, so a timeout names exactly one purchase."""
    first = _webpay(world, quantity=1)
    second = world.buy(OTHER_USER, 1, quantity=1, wallet=False).purchase

    assert first.buy_order != second.buy_order
    final = world.exchange.commit_payment(OTHER_USER, PaymentReturn(buy_order=second.buy_order))

    assert final.request_id == second.request_id
    assert world.purchase(first.request_id).status is PurchaseStatus.PENDING_PAYMENT


def test_cancelling_takes_the_buy_order_not_only_the_public_token(world: World) -> None:
    """The token travels on fixtures/requests, so a cancel naming only it changes nothing."""
    purchase = _webpay(world)
    before = world.snapshot()

    for back in (
        PaymentReturn(token=purchase.deposit_token, cancelled=True),
        PaymentReturn(token=purchase.deposit_token, buy_order="0" * 26, cancelled=True),
        PaymentReturn(buy_order=purchase.request_id.replace("-", "")[-26:], cancelled=True),
    ):
        with pytest.raises(UnknownPurchase):
            world.exchange.commit_payment(USER, back)

    assert world.snapshot() == before
    assert world.purchase(purchase.request_id).status is PurchaseStatus.PENDING_PAYMENT


def test_the_buy_order_is_not_derived_from_the_published_request_id(world: World) -> None:
    """A timed-out return names the purchase by buy order alone: it must not be guessable."""
    purchase = _webpay(world)

    assert purchase.buy_order is not None
    assert purchase.buy_order not in purchase.request_id.replace("-", "")


def test_money_taken_for_a_purchase_that_is_not_accepted_goes_to_the_wallet(
    world: World,
) -> None:
    """An authorized payment of the wrong amount rejects the purchase and credits what was paid."""
    purchase = _webpay(world, quantity=2)

    class WrongAmount:
        def start(self, *arguments: object) -> PaymentStart:
            raise AssertionError("not used")

        def commit(self, token: str) -> PaymentConfirmation:
            return PaymentConfirmation(token, authorized=True, amount=1500, buy_order="x")

        def status(self, token: str) -> PaymentConfirmation | None:
            return self.commit(token)

        def refund(self, token: str, amount: int) -> bool:
            return False  # the provider refuses: the wallet gets the money

    paid_wrong = Exchange(
        uow=world.store.unit_of_work,
        payments=WrongAmount(),
        jobs=world.jobs,
        clock=world.clock,
        ids=world.ids,
    )
    final = paid_wrong.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))

    assert final.status is PurchaseStatus.REJECTED
    assert world.balance(USER) == 1500
    assert [(e.amount, e.kind.value) for e in world.ledger(USER)] == [(1500, "refund")]
    assert world.available(1) == 40


def test_purchases_left_unpaid_are_cancelled_after_the_timeout(world: World) -> None:
    """An unpaid Webpay purchase older than the timeout is cancelled once, its bonds freed."""
    world.payments.payer_pays = False
    stale = _webpay(world, quantity=3)
    world.clock.advance(minutes=10)
    recent = _webpay(world, quantity=1)
    world.clock.advance(minutes=6)  # stale is 16 minutes old, recent 6

    assert world.exchange.expire_payments() == 1
    assert world.exchange.expire_payments() == 0

    assert world.purchase(stale.request_id).status is PurchaseStatus.REJECTED
    assert world.purchase(stale.request_id).payment_status is PaymentStatus.CANCELLED
    assert world.purchase(recent.request_id).status is PurchaseStatus.PENDING_PAYMENT
    assert world.available(1) == 39
    assert world.published(TOPIC_VALIDATION) == [
        {"request_id": stale.request_id, "group_id": "15", "seller": 0, "valid": False}
    ]
    late = world.exchange.commit_payment(USER, PaymentReturn(token=stale.deposit_token))
    assert late.status is PurchaseStatus.REJECTED
    assert world.payments.committed == []  # never charged: Webpay reverses it


def test_an_authorized_payment_whose_return_never_came_is_accepted_at_expiry(world: World) -> None:
    """Expiry asks the provider first: a payment it authorized is committed and accepted."""
    purchase = _webpay(world, quantity=2)
    world.clock.advance(minutes=16)

    assert world.exchange.expire_payments() == 1

    assert world.purchase(purchase.request_id).status is PurchaseStatus.ACCEPTED
    assert world.payments.committed == [purchase.deposit_token]
    assert world.published(TOPIC_VALIDATION)[0]["valid"] is True


def test_an_unreachable_provider_leaves_the_purchase_unpaid(world: World) -> None:
    """Provider down at the return or at expiry: the purchase stays pending_payment, no guess."""
    purchase = _webpay(world)
    world.payments.down = True
    world.clock.advance(minutes=16)

    with pytest.raises(Unavailable):
        world.exchange.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))
    assert world.exchange.expire_payments() == 0

    assert world.purchase(purchase.request_id).status is PurchaseStatus.PENDING_PAYMENT
    world.payments.down = False
    back = world.exchange.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))
    assert back.status is PurchaseStatus.ACCEPTED


def test_a_repeated_commit_keeps_the_first_outcome(world: World) -> None:
    """A token committed already (its answer lost) is decided through the status, once."""
    purchase = _webpay(world)
    world.payments.commit(purchase.deposit_token)  # committed, but we never heard the answer

    final = world.exchange.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))

    assert final.status is PurchaseStatus.ACCEPTED
    assert world.payments.refunded == []


def test_a_return_before_the_payer_decided_says_so(world: World) -> None:
    """Committing a token whose payer has not finished raises PaymentNotFinished."""
    world.payments.payer_pays = False
    purchase = _webpay(world)

    with pytest.raises(PaymentNotFinished):
        world.exchange.commit_payment(USER, PaymentReturn(token=purchase.deposit_token))
    assert world.purchase(purchase.request_id).status is PurchaseStatus.PENDING_PAYMENT
