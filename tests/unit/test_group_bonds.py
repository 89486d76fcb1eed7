"""The group's own bonds (CONTRACT §4b): admin purchases, the inventory, resales, the account."""

from __future__ import annotations

import pytest

from goat_adapters.memory.world import World
from goat_core.errors import (
    Conflict,
    FixtureStarted,
    Forbidden,
    InvalidInput,
    LotTooSmall,
    NotEnoughMoney,
    UnknownLot,
)
from goat_core.inventory import AccountKind, LotStatus, Origin, discounted_price
from goat_core.model import Outcome, PurchaseStatus, Viewer
from goat_core.services import BuyBonds, PaymentReturn
from goat_core.wire import TOPIC_REQUESTS, TOPIC_VALIDATION
from tests.unit.group_support import ADMIN, group_lot, group_purchase
from tests.unit.support import USER

pytestmark = pytest.mark.usefixtures("world")


def test_admin_group_purchase_is_announced_with_our_seller(world: World) -> None:
    """An admin's purchase for the group goes out on fixtures/requests with seller = our id."""
    lot = group_lot(world, 5)

    announced = world.published(TOPIC_REQUESTS)[-1]
    assert announced["seller"] == 15
    assert lot.quantity == 5
    assert lot.status is LotStatus.HELD
    assert lot.origin is Origin.PURCHASE
    assert world.available(1) == 35  # reserved on the fixture once, like any purchase


def test_rejected_group_purchase_lands_nowhere(world: World) -> None:
    """A rejected group purchase makes no lot and gives the admin's money back."""
    group_purchase(world, 5, valid=False)

    assert world.store.lots() == []
    assert world.balance(ADMIN.user_id) == 5000


def test_validation_twice_makes_one_lot(world: World) -> None:
    """The same acceptance applied twice stocks the inventory once."""
    lot = group_lot(world, 4)
    request_id = lot.source.removeprefix("purchase:")

    world.validate(request_id, True, group_id=2)

    assert [x.quantity for x in world.store.lots()] == [4]


def test_non_admin_naming_a_seller_is_forbidden(world: World) -> None:
    """A user who is not an admin may not buy for the group."""
    world.fund(USER, 5000)
    command = BuyBonds(USER, 1, Outcome.HOME, 1, wallet=True, seller=15)

    with pytest.raises(Forbidden):
        world.exchange.buy_bonds(command)


def test_admin_naming_another_group_as_seller_is_invalid(world: World) -> None:
    """An admin's seller must be 0 or our own group id."""
    world.fund(ADMIN.user_id, 5000)
    command = BuyBonds(ADMIN.user_id, 1, Outcome.HOME, 1, wallet=True, seller=7, admin=True)

    with pytest.raises(InvalidInput) as raised:
        world.exchange.buy_bonds(command)
    assert raised.value.field == "seller"


def test_inventory_and_account_are_for_admins_only(world: World) -> None:
    """Users may not see the inventory or the account, nor change a lot."""
    lot = group_lot(world, 2)
    user = Viewer(USER)

    with pytest.raises(Forbidden):
        world.exchange.group_inventory(user)
    with pytest.raises(Forbidden):
        world.exchange.group_account(user)
    with pytest.raises(Forbidden):
        world.exchange.update_lot(user, lot.id, on_sale=True, discount=0)


@pytest.mark.parametrize("discount", [0, 10, 20, 30])
def test_a_lot_goes_on_sale_with_an_allowed_discount(world: World, discount: int) -> None:
    """A lot goes on sale at 0, 10, 20 or 30 % off and is listed for users at that price."""
    lot = group_lot(world, 3)

    world.exchange.update_lot(ADMIN, lot.id, on_sale=True, discount=discount)

    [listed] = world.exchange.lots_on_sale()
    assert listed.lot.discount == discount
    assert listed.lot.price(1000) == 1000 - discount * 10


@pytest.mark.parametrize("discount", [5, -10, 40, 100])
def test_other_discounts_are_refused(world: World, discount: int) -> None:
    """A discount other than 0/10/20/30 is invalid input naming the field."""
    lot = group_lot(world, 3)

    with pytest.raises(InvalidInput) as raised:
        world.exchange.update_lot(ADMIN, lot.id, on_sale=True, discount=discount)
    assert raised.value.field == "discount"


def test_discounted_price_rounds_half_up() -> None:
    """The price is round_half_up(price × (100 − discount) / 100)."""
    assert discounted_price(1000, 30) == 700
    assert discounted_price(1005, 10) == 905  # 904.5 rounds up


def test_unknown_lot_is_not_found(world: World) -> None:
    """A lot id the inventory does not hold is unknown."""
    with pytest.raises(UnknownLot):
        world.exchange.update_lot(ADMIN, "nope", on_sale=True, discount=0)
    with pytest.raises(UnknownLot):
        world.exchange.buy_from_lot(USER, "nope", 1)


def test_held_lot_is_not_for_sale(world: World) -> None:
    """A user cannot buy from a lot that is not on sale (it is unknown to them)."""
    lot = group_lot(world, 3)
    world.fund(USER, 5000)

    with pytest.raises(UnknownLot):
        world.exchange.buy_from_lot(USER, lot.id, 1)


def test_user_buys_from_a_lot_at_the_discount(world: World) -> None:
    """A user's purchase from a lot is accepted at once, not announced, paid at the discount."""
    lot = group_lot(world, 10)
    world.exchange.update_lot(ADMIN, lot.id, on_sale=True, discount=20)
    world.fund(USER, 5000)
    announced = len(world.published(TOPIC_REQUESTS))

    view = world.exchange.buy_from_lot(USER, lot.id, 3)

    assert view.purchase.status is PurchaseStatus.ACCEPTED
    assert view.purchase.seller == 15
    assert world.balance(USER) == 5000 - 3 * 800
    assert len(world.published(TOPIC_REQUESTS)) == announced
    assert world.available(1) == 30  # the fixture's availability does not change
    assert [x.quantity for x in world.store.lots()] == [7]
    balance, entries = world.exchange.group_account(ADMIN)
    assert balance == 2400
    assert [e.kind for e in entries] == [AccountKind.SALE]


def test_lot_cannot_be_sold_beyond_its_quantity(world: World) -> None:
    """Buying more than a lot holds is refused and changes nothing."""
    lot = group_lot(world, 2)
    world.exchange.update_lot(ADMIN, lot.id, on_sale=True, discount=0)
    world.fund(USER, 10_000)
    before = world.snapshot()

    with pytest.raises(LotTooSmall):
        world.exchange.buy_from_lot(USER, lot.id, 3)
    assert world.snapshot() == before


def test_wallet_is_never_overdrawn_by_a_lot(world: World) -> None:
    """A buyer without the money is refused and the lot keeps its bonds."""
    lot = group_lot(world, 5)
    world.exchange.update_lot(ADMIN, lot.id, on_sale=True, discount=0)
    world.fund(USER, 999)

    with pytest.raises(NotEnoughMoney):
        world.exchange.buy_from_lot(USER, lot.id, 1)
    assert world.store.lots()[0].quantity == 5
    assert world.balance(USER) == 999


def test_started_fixture_lot_is_not_sold(world: World) -> None:
    """Bonds of a fixture that has started are no longer sold from a lot."""
    lot = group_lot(world, 5)
    world.exchange.update_lot(ADMIN, lot.id, on_sale=True, discount=0)
    world.fund(USER, 5000)
    world.clock.advance(days=10)

    assert world.exchange.lots_on_sale() == []
    with pytest.raises(FixtureStarted):
        world.exchange.buy_from_lot(USER, lot.id, 1)


def test_lot_on_auction_cannot_go_on_sale(world: World) -> None:
    """Bonds held on auction cannot be put on sale."""
    lot = group_lot(world, 5)
    offer = world.exchange.offer_bonds(ADMIN, lot.id, 5)

    with pytest.raises(Conflict):
        world.exchange.update_lot(ADMIN, offer.lot_id or "", on_sale=True, discount=0)


def test_settlement_pays_group_lots_and_lot_buyers_once(world: World) -> None:
    """A win pays the group's remaining lot into its account and users' lot bonds to them,
    never the admin's wallet, each once however often the result comes."""
    lot = group_lot(world, 10)
    world.exchange.update_lot(ADMIN, lot.id, on_sale=True, discount=10)
    world.fund(USER, 900 * 4)
    world.exchange.buy_from_lot(USER, lot.id, 4)

    world.result(1, "FT", 2, 0)
    world.result(1, "FT", 2, 0)
    world.result(1, "AET", 2, 0)

    balance, entries = world.exchange.group_account(ADMIN)
    payouts = [e.amount for e in entries if e.kind is AccountKind.PAYOUT]
    assert payouts == [round(6 * 1000 * 1.85)]
    assert balance == 3600 + 11_100
    assert world.balance(USER) == round(4 * 1000 * 1.85)
    assert world.balance(ADMIN.user_id) == 0


def test_losing_lot_pays_nothing(world: World) -> None:
    """A lot on the losing result is settled with nothing paid."""
    group_lot(world, 10)

    world.result(1, "FT", 0, 1)

    assert world.exchange.group_account(ADMIN) == (0, [])
    assert world.store.lots()[0].settled


def test_group_purchase_accepted_after_the_end_is_paid_at_once(world: World) -> None:
    """A group purchase validated after its fixture finished pays its lot at once."""
    world.fund(ADMIN.user_id, 2000)
    bought = world.exchange.buy_bonds(
        BuyBonds(ADMIN.user_id, 1, Outcome.HOME, 2, wallet=True, seller=15, admin=True)
    )
    world.result(1, "FT", 1, 0)

    world.validate(bought.purchase.request_id, True)

    balance, _ = world.exchange.group_account(ADMIN)
    assert balance == 3700
    assert world.balance(ADMIN.user_id) == 0


def test_receipt_of_a_lot_purchase_shows_the_discounted_price(world: World) -> None:
    """A receipt for bonds bought from a lot says what the buyer paid, discount applied."""
    lot = group_lot(world, 5)
    world.exchange.update_lot(ADMIN, lot.id, on_sale=True, discount=30)
    world.fund(USER, 5000)
    view = world.exchange.buy_from_lot(USER, lot.id, 2)

    receipt = world.exchange.notices.receipt_of(view.purchase.request_id)

    assert receipt is not None
    assert (receipt.unit_price, receipt.amount_paid) == (700, 1400)


def test_webpay_group_purchase_lands_in_the_inventory_when_paid(world: World) -> None:
    """A group purchase paid through Webpay becomes a lot once the payment is committed,
    and its validation is published with our group id as seller."""
    command = BuyBonds(ADMIN.user_id, 1, Outcome.AWAY, 3, wallet=False, seller=15, admin=True)
    purchase = world.exchange.buy_bonds(command).purchase
    assert world.store.lots() == []

    world.exchange.commit_payment(ADMIN.user_id, PaymentReturn(token=purchase.deposit_token))
    world.exchange.commit_payment(ADMIN.user_id, PaymentReturn(token=purchase.deposit_token))

    [lot] = world.store.lots()
    assert (lot.quantity, lot.result, lot.status) == (3, Outcome.AWAY, LotStatus.HELD)
    assert [v["seller"] for v in world.published(TOPIC_VALIDATION)] == [15]
