"""The group's own bonds (CONTRACT §4b): the inventory, resales to our users, the account.

An admin's purchase with ``seller`` = our group id is bought like any purchase; when it
is accepted its bonds become a lot (``stock_group_purchase``, called from the shared
acceptance step in ``settlement``). When a fixture ends, each lot the group still holds
on the winning result pays into the group's account once (``settle_lots``); the admin's
purchase itself pays nothing to the admin's wallet (its bonds are the group's).
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from goat_core.errors import (
    Conflict,
    FixtureStarted,
    InvalidInput,
    UnknownLot,
)
from goat_core.inventory import (
    DISCOUNTS,
    AccountEntry,
    AccountKind,
    Lot,
    LotStatus,
    LotView,
    Origin,
    lot_id,
)
from goat_core.jobs import MakeReceipt, SendEmail
from goat_core.model import (
    FixtureSummary,
    Purchase,
    PurchaseStatus,
    PurchaseView,
    Rules,
    Viewer,
    payout,
)
from goat_core.ports import UnitOfWork
from goat_core.services.context import Context
from goat_core.services.queries import require_admin

__all__ = [
    "MAX_LOT_PURCHASE",
    "GroupBonds",
    "is_group_purchase",
    "settle_lots",
    "stock_group_purchase",
]

log = logging.getLogger("goat.core")

MAX_LOT_PURCHASE = 2**31 - 1
"""No lot holds more bonds than this (a quantity beyond it is a malformed request)."""


def purchase_source(request_id: str) -> str:
    """The source of the lot an admin's group purchase becomes."""
    return f"purchase:{request_id}"


def is_group_purchase(uow: UnitOfWork, purchase: Purchase, rules: Rules) -> bool:
    """Whether ``purchase`` is an admin's purchase for the group whose bonds are a lot."""
    return (
        purchase.is_ours
        and str(purchase.seller) == rules.group_id
        and uow.inventory.by_source(purchase_source(purchase.request_id)) is not None
    )


def stock_group_purchase(uow: UnitOfWork, purchase: Purchase, rules: Rules, now: datetime) -> bool:
    """Put an accepted group purchase's bonds in the inventory once; True if this did.

    A purchase of ours with ``seller`` = our group id that reserved bonds on the fixture
    is an admin's group purchase (a user's purchase from a lot reserves none).
    """
    if not (purchase.is_ours and str(purchase.seller) == rules.group_id and purchase.reserved):
        return False
    source = purchase_source(purchase.request_id)
    lot = Lot(
        id=lot_id(source),
        fixture_id=purchase.fixture_id,
        result=purchase.result,
        quantity=purchase.reserved,
        status=LotStatus.HELD,
        origin=Origin.PURCHASE,
        source=source,
        created_at=now,
    )
    added = uow.inventory.add(lot)
    if added:
        log.info("group purchase %s: %d bonds in the inventory", purchase.request_id, lot.quantity)
        settle_lots(uow, purchase.fixture_id, rules, now)
    return added


def settle_lots(uow: UnitOfWork, fixture_id: int, rules: Rules, now: datetime) -> int:
    """Pay each lot the group holds on a finished fixture into the account, once.

    A lot is settled by the group that holds it once its fixture's result is known and
    its auction, if any, decided (``Lot.is_the_groups``): held, on sale or offered in our
    auction, it is ours; proposed for another group's auction it waits for the answer (a
    rejection brings it back and settles it, an acceptance gives it away); traded, it is
    the other group's. A lot that wins pays round_half_up(quantity × price × odd); a
    losing or empty lot is marked settled with nothing paid. Returns how many lots this
    call settled.
    """
    # most fixtures have no lot: one indexed read, and the lock and fixture only if any
    if not any(not x.settled for x in uow.inventory.for_fixture(fixture_id)):
        return 0
    # a final result being recorded now waits for us (and then sees our lots), or we
    # wait for it and read the fixture finished: no lot is left unpaid between the two;
    # and every trade, offer, proposal or answer moving a lot holds this lock too, so the
    # lots read next keep their status until we commit
    uow.fixtures.lock(fixture_id)
    fixture = uow.fixtures.get(fixture_id)
    if fixture is None or not fixture.is_finished:
        return 0
    settled = 0
    for lot in uow.inventory.for_fixture(fixture_id):
        if lot.settled or not lot.is_the_groups or not uow.inventory.mark_settled(lot.id):
            continue
        settled += 1
        if lot.quantity and fixture.winner == lot.result:
            odd = fixture.odds.for_outcome(lot.result) if fixture.odds else Decimal(1)
            amount = payout(lot.quantity, rules.bond_price, odd)
            uow.account.add(AccountEntry(amount, AccountKind.PAYOUT, f"lot:{lot.id}", now))
    return settled


class GroupBonds:
    """The inventory, resales to our users and the group's account."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def inventory(self, viewer: Viewer) -> list[LotView]:
        """The group's lots that hold bonds, oldest first (admins)."""
        require_admin(viewer)
        with self._context.uow() as uow:
            lots = uow.inventory.lots((LotStatus.HELD, LotStatus.ON_SALE, LotStatus.ON_AUCTION))
            return _views(uow, lots)

    def update_lot(
        self, viewer: Viewer, lot: str, *, on_sale: bool | None, discount: int | None
    ) -> LotView:
        """Put a lot on sale or take it off, with a discount of 0, 10, 20 or 30 % (admins).

        A lot on auction or traded cannot change (``Conflict``).
        """
        require_admin(viewer)
        if discount is not None and discount not in DISCOUNTS:
            raise InvalidInput("discount", "must be 0, 10, 20 or 30")
        with self._context.uow() as uow:
            found = uow.inventory.get(lot)
            if found is None or found.status is LotStatus.TRADED:
                raise UnknownLot(lot)
            if on_sale is None:
                to = found.status
            else:
                to = LotStatus.ON_SALE if on_sale else LotStatus.HELD
            movable = (LotStatus.HELD, LotStatus.ON_SALE)
            if not uow.inventory.move(lot, movable, to, discount):
                raise Conflict(f"lot {lot} is on auction: it cannot change now")
            uow.commit()
            changed = uow.inventory.get(lot)
            assert changed is not None
            return _views(uow, [changed])[0]

    def on_sale(self) -> list[LotView]:
        """The lots our users may buy now: on sale, with bonds, fixture not started."""
        now = self._context.clock.now()
        with self._context.uow() as uow:
            views = _views(uow, uow.inventory.lots((LotStatus.ON_SALE,)))
        return [v for v in views if v.fixture is not None and v.fixture.kickoff > now]

    def buy_from_lot(self, user_id: str, lot: str, quantity: int) -> PurchaseView:
        """A user buys bonds of a lot on sale by wallet, at the lot's discounted price.

        The purchase is accepted at once and not announced (the bonds were announced and
        validated when the group bought them); it pays out on a win like any purchase.
        Raises ``UnknownLot`` (also for a lot not on sale), ``FixtureStarted``,
        ``LotTooSmall`` or ``NotEnoughMoney``, and then changes nothing.
        """
        context, rules = self._context, self._context.rules
        if not 1 <= quantity <= MAX_LOT_PURCHASE:
            raise InvalidInput("quantity", f"must be from 1 to {MAX_LOT_PURCHASE}")
        now = context.clock.now()
        with context.uow() as uow:
            found = uow.inventory.get(lot)
            if found is None or found.status is not LotStatus.ON_SALE:
                raise UnknownLot(lot)
            # a final result being recorded waits for this sale, or this sale sees it
            # started; other buyers of the fixture's lots do not wait (a shared hold)
            uow.fixtures.lock_shared(found.fixture_id)
            fixture = uow.fixtures.get(found.fixture_id)
            if fixture is None or fixture.has_started(now):
                raise FixtureStarted(found.fixture_id)
            price = found.price(rules.bond_price)
            purchase = Purchase(
                request_id=context.ids.new_id(),
                group_id=rules.group_id,
                fixture_id=fixture.id,
                league_name=fixture.league.name,
                round=fixture.league.round,
                date=fixture.kickoff.date().isoformat(),
                result=found.result,
                quantity=quantity,
                reserved=0,  # the group's bonds change hands; the fixture's stay as they are
                wallet=True,
                created_at=now,
                status=PurchaseStatus.ACCEPTED,
                seller=_seller(rules),
                user_id=user_id,
                updated_at=now,
            )
            uow.inventory.sell(found.id, purchase, price * quantity, now)
            uow.jobs.add(
                MakeReceipt(purchase.request_id), SendEmail(purchase.request_id, "accepted")
            )
            uow.commit()
        context.jobs_queued()
        log.info("user bought %d bonds of lot %s at %d CLP each", quantity, lot, price)
        return PurchaseView(purchase, FixtureSummary.of(fixture))

    def account(self, viewer: Viewer) -> tuple[int, list[AccountEntry]]:
        """The group's balance and every entry of its account, oldest first (admins)."""
        require_admin(viewer)
        with self._context.uow() as uow:
            entries = uow.account.entries()
        return sum(e.amount for e in entries), entries


def _seller(rules: Rules) -> int:
    return int(rules.group_id) if rules.group_id.isdigit() else 0


def _views(uow: UnitOfWork, lots: list[Lot]) -> list[LotView]:
    fixtures = uow.fixtures.summaries({lot.fixture_id for lot in lots})
    return [LotView(lot, fixtures.get(lot.fixture_id)) for lot in lots]
