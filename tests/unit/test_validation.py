"""Validations on fixtures/validation: accept, reject, repeats, conflicts, early arrivals."""

from __future__ import annotations

from goat_core.jobs import MakeReceipt
from goat_core.model import LedgerKind, Outcome, PurchaseStatus, ValidationMessage
from goat_core.services import Handled
from goat_core.wire import TOPIC_VALIDATION
from tests.unit.support import USER, World


def test_acceptance_keeps_the_bonds(world: World) -> None:
    """A valid verdict accepts a pending purchase; its bonds stay reserved."""
    world.peer_request("peer-1", quantity=3)

    assert world.validate("peer-1", True) == Handled.APPLIED

    assert world.purchase("peer-1").status is PurchaseStatus.ACCEPTED
    assert world.available(1) == 37


def test_rejection_gives_back_exactly_what_was_reserved(world: World) -> None:
    """Rejecting a partial peer purchase releases only the bonds it actually held."""
    world.peer_request("peer-1", quantity=38)
    world.peer_request("peer-2", quantity=5)  # gets 2 of 5

    assert world.validate("peer-2", False) == Handled.APPLIED

    assert world.purchase("peer-2").status is PurchaseStatus.REJECTED
    assert world.available(1) == 2


def test_rejection_refunds_our_wallet_purchase(world: World) -> None:
    """Rejecting our wallet purchase refunds its cost and releases its bonds."""
    world.fund(USER, 3000)
    request_id = world.buy(USER, 1, Outcome.HOME, 3).purchase.request_id

    world.validate(request_id, False)

    assert world.purchase(request_id).status is PurchaseStatus.REJECTED
    assert world.balance(USER) == 3000
    refund = world.ledger(USER)[-1]
    assert (refund.kind, refund.amount, refund.reference) == (LedgerKind.REFUND, 3000, request_id)
    assert world.available(1) == 40


def test_acceptance_of_ours_queues_a_receipt(world: World) -> None:
    """When the course accepts our wallet purchase a receipt job is queued."""
    world.fund(USER, 1000)
    request_id = world.buy(USER, 1, Outcome.HOME, 1).purchase.request_id

    world.validate(request_id, True)

    assert MakeReceipt(request_id) in world.relay_jobs()


def test_acceptance_of_a_peer_purchase_queues_nothing(world: World) -> None:
    """Accepting another group's purchase makes no receipt."""
    world.peer_request("peer-1")

    world.validate("peer-1", True)

    assert world.relay_jobs() == []


def test_repeated_validation_changes_nothing(world: World) -> None:
    """A rejection delivered twice refunds and releases only once."""
    world.fund(USER, 2000)
    request_id = world.buy(USER, 1, Outcome.HOME, 2).purchase.request_id
    world.validate(request_id, False)
    before = world.snapshot()

    assert world.validate(request_id, False) == Handled.DUPLICATE
    assert world.validate(request_id, False, group_id=1) == Handled.IGNORED

    assert world.snapshot() == before
    assert world.balance(USER) == 2000


def test_first_verdict_wins(world: World) -> None:
    """A verdict contradicting an earlier one on the same purchase changes nothing."""
    world.peer_request("peer-1", quantity=2)
    world.peer_request("peer-2", quantity=2)
    world.validate("peer-1", True)
    world.validate("peer-2", False)
    before = world.snapshot()

    assert world.validate("peer-1", False) == Handled.IGNORED
    assert world.validate("peer-2", True) == Handled.IGNORED

    assert world.snapshot() == before
    assert world.purchase("peer-1").status is PurchaseStatus.ACCEPTED
    assert world.purchase("peer-2").status is PurchaseStatus.REJECTED
    assert world.available(1) == 38


def test_validation_before_its_request_is_applied_on_arrival(world: World) -> None:
    """A verdict for an unknown purchase is kept and applied when the request arrives."""
    world.validate("peer-1", False)
    assert world.store.purchases() == []

    world.peer_request("peer-1", quantity=4)

    assert world.purchase("peer-1").status is PurchaseStatus.REJECTED
    assert world.available(1) == 40


def test_early_acceptance_is_applied_on_arrival(world: World) -> None:
    """An early valid verdict makes the purchase accepted as soon as it is recorded."""
    world.validate("peer-1", True)

    world.peer_request("peer-1", quantity=4)

    assert world.purchase("peer-1").status is PurchaseStatus.ACCEPTED
    assert world.available(1) == 36


def test_first_early_verdict_wins(world: World) -> None:
    """Of two conflicting verdicts arriving before the request, the first is applied."""
    world.validate("peer-1", True)
    world.validate("peer-1", False)

    world.peer_request("peer-1", quantity=4)

    assert world.purchase("peer-1").status is PurchaseStatus.ACCEPTED


def test_validation_of_a_purchase_awaiting_payment_is_ignored(world: World) -> None:
    """A verdict for our Webpay purchase still awaiting payment changes nothing."""
    request_id = world.buy(USER, 1, Outcome.HOME, 2, wallet=False).purchase.request_id
    before = world.snapshot()

    assert world.validate(request_id, True) == Handled.IGNORED
    assert world.validate(request_id, False) == Handled.IGNORED

    assert world.snapshot() == before
    assert world.purchase(request_id).status is PurchaseStatus.PENDING_PAYMENT


def test_validation_through_the_use_case_matches_the_broker(world: World) -> None:
    """apply_validation (the admin endpoint) has the same effect as the broker message."""
    world.peer_request("peer-1", quantity=2)

    assert world.exchange.apply_validation(ValidationMessage("peer-1", "1", False)) is True
    assert world.exchange.apply_validation(ValidationMessage("peer-1", "1", False)) is False

    assert world.available(1) == 40


def test_we_publish_no_validation_for_peers(world: World) -> None:
    """Applying verdicts on others' purchases publishes nothing of ours."""
    world.peer_request("peer-1")
    world.validate("peer-1", True)

    assert world.published(TOPIC_VALIDATION) == []
