"""Deciding and settling purchases: plain functions over a unit of work.

Validations (from the broker, an admin or our own payment flow) decide a purchase;
final results settle the accepted ones. The jobs a decision calls for (an accepted
purchase's receipt, a winner's recommendations) go to the job outbox in the same
transaction. Several use cases share these steps, always
inside their own transaction, so they take the unit of work rather than open one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from goat_core.jobs import MakeReceipt, Recommend, SendEmail
from goat_core.model import (
    LedgerKind,
    MatchState,
    Purchase,
    PurchaseStatus,
    Rules,
    ValidationMessage,
    payout,
)
from goat_core.ports import UnitOfWork
from goat_core.services.group import is_group_purchase, settle_lots, stock_group_purchase

__all__ = ["apply_validation", "record_results", "settle", "settle_if_finished"]


def apply_validation(
    uow: UnitOfWork, message: ValidationMessage, rules: Rules, now: datetime
) -> bool:
    """Decide a pending purchase by a validation; True if it decided one or parked it.

    A validation whose request has not arrived is parked for it. The first verdict wins;
    a rejection gives back the bonds and, for our wallet purchases, the money.
    """
    purchase = uow.purchases.get(message.request_id)
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
    pending = {PurchaseStatus.PENDING}
    if message.valid:
        if not uow.purchases.transition(purchase.request_id, pending, PurchaseStatus.ACCEPTED, now):
            return False
        if purchase.is_ours:
            uow.jobs.add(
                MakeReceipt(purchase.request_id), SendEmail(purchase.request_id, "accepted")
            )
        settle_if_finished(uow, purchase.request_id, rules, now)
        return True
    if not uow.purchases.transition(purchase.request_id, pending, PurchaseStatus.REJECTED, now):
        return False
    if purchase.is_ours and purchase.wallet and purchase.user_id is not None:
        uow.wallets.credit(
            purchase.user_id, purchase.cost(rules), LedgerKind.REFUND, purchase.request_id, now
        )
    if purchase.is_ours:
        uow.jobs.add(SendEmail(purchase.request_id, "rejected"))
    uow.fixtures.release(purchase.fixture_id, purchase.reserved)
    return True


def record_results(
    uow: UnitOfWork, states: Sequence[MatchState], rules: Rules, now: datetime
) -> int:
    """Apply fixtures/history: update each fixture, settle finished ones; return settled.

    The purchases of every fixture finished are settled in the order of their buyers'
    ids, the order in which a lot of purchases locks its buyers' rows: paid as they were
    bought, two winners could be locked in the other order and deadlock with a lot. The
    states of fixtures not finished come last, after the payments: such a fixture may
    still be on sale, and a lot locks its buyers' rows before the fixture's. Every
    fixture's result lock is taken first, by id, so that two listeners applying two
    messages wait for each other there, before either holds a row.
    """
    # by fixture id (stable), so that two listeners lock fixtures in the same order
    ordered = sorted(states, key=lambda s: s.fixture_id)
    for state in ordered:
        uow.fixtures.lock(state.fixture_id)  # accepting waits, or we see it
    finished: list[int] = []
    for state in ordered:
        ended = state.is_final and uow.fixtures.apply_result(state, now)
        if ended and state.fixture_id not in finished:
            finished.append(state.fixture_id)
    accepted = [
        purchase
        for fixture_id in finished
        for purchase in uow.purchases.for_fixture(fixture_id, PurchaseStatus.ACCEPTED)
    ]
    accepted.sort(key=lambda purchase: purchase.user_id or "")
    settled = sum(settle(uow, purchase, rules, now) for purchase in accepted)
    for fixture_id in finished:
        settle_lots(uow, fixture_id, rules, now)  # the group's own bonds
    for state in ordered:
        if not state.is_final:  # (refused for a fixture that ended: never reopened)
            uow.fixtures.apply_result(state, now)
    return settled


def settle_if_finished(uow: UnitOfWork, request_id: str, rules: Rules, now: datetime) -> None:
    """The last step of every acceptance: an admin's group purchase becomes a lot of the
    inventory, and a purchase accepted after its fixture ended is settled right away."""
    purchase = uow.purchases.get(request_id)
    if purchase is not None and purchase.status == PurchaseStatus.ACCEPTED:
        # a final result being recorded right now either waits for us (and then sees
        # this purchase accepted and its lot) or is seen by the reads below: locked
        # before the lot is stocked, so that stocking settles it if the fixture is over
        uow.fixtures.lock(purchase.fixture_id)
        stock_group_purchase(uow, purchase, rules, now)
        settle(uow, purchase, rules, now)


def settle(uow: UnitOfWork, purchase: Purchase, rules: Rules, now: datetime) -> int:
    """Mark an accepted purchase of a finished fixture won or lost, paying our winners.

    Returns 1 if this call settled it, 0 if the fixture is not finished or another
    settled it first.
    """
    fixture = uow.fixtures.get(purchase.fixture_id)
    if fixture is None or not fixture.is_finished:
        return 0
    won = fixture.winner == purchase.result
    amount = 0
    # an admin's group purchase pays nobody: its bonds are the group's lot (settle_lots)
    if won and purchase.is_ours and not is_group_purchase(uow, purchase, rules):
        odd = fixture.odds.for_outcome(purchase.result) if fixture.odds else Decimal(1)
        amount = payout(purchase.quantity, rules.bond_price, odd)
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
        uow.wallets.credit(purchase.user_id, amount, LedgerKind.PAYOUT, purchase.request_id, now)
    if won and purchase.is_ours and purchase.user_id is not None:
        # the user's won bonds changed: their recommendations are recomputed after commit
        uow.jobs.add(Recommend(purchase.user_id))
    if purchase.is_ours:
        uow.jobs.add(SendEmail(purchase.request_id, "settled"))
    return 1
