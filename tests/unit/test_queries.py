"""The read side and the rules the HTTP edge used to keep: who sees what, receipts, limits."""

from __future__ import annotations

import pytest

from goat_core.errors import Forbidden, InvalidInput, NotAccepted, UnknownFixture, UnknownPurchase
from goat_core.jobs import MakeReceipt, Recommend
from goat_core.model import Outcome, PurchaseStatus, Viewer
from goat_core.services.accounts import MAX_WALLET
from tests.unit.support import OTHER_USER, USER, World

ALICE = Viewer(USER)
BOB = Viewer(OTHER_USER)
ADMIN = Viewer("auth0|admin", admin=True)


def _bought(world: World) -> str:
    world.fund(USER, 1000)
    return world.buy(USER).purchase.request_id


def test_another_users_purchase_is_unknown_to_a_user_and_visible_to_an_admin(
    world: World,
) -> None:
    """A purchase is seen by its owner and admins; anyone else is told it does not exist."""
    request_id = _bought(world)

    assert world.exchange.purchase(ALICE, request_id).purchase.request_id == request_id
    assert world.exchange.purchase(ADMIN, request_id).purchase.request_id == request_id
    with pytest.raises(UnknownPurchase):
        world.exchange.purchase(BOB, request_id)


def test_only_an_admin_lists_another_users_purchases(world: World) -> None:
    """Naming another user in the purchase list needs goat:admin; naming oneself does not."""
    _bought(world)

    assert world.exchange.purchases(ALICE, user_id=USER).total == 1
    assert world.exchange.purchases(ADMIN, user_id=USER).total == 1
    assert world.exchange.purchases(BOB).total == 0
    with pytest.raises(Forbidden):
        world.exchange.purchases(BOB, user_id=USER)


def test_dead_letters_are_for_admins(world: World) -> None:
    """Only an admin reads the kept malformed messages."""
    world.exchange.receive("fixtures/requests", "{not json")

    assert world.exchange.dead_letters(ADMIN).total == 1
    with pytest.raises(Forbidden):
        world.exchange.dead_letters(ALICE)


def test_a_pending_purchase_has_no_receipt(world: World) -> None:
    """Before its validation a purchase has no receipt: NotAccepted, and no job is queued."""
    request_id = _bought(world)
    world.relay_jobs()

    with pytest.raises(NotAccepted):
        world.exchange.receipt(ALICE, request_id)
    assert world.relay_jobs() == []


def test_an_accepted_purchase_without_receipt_queues_one_and_answers_none(world: World) -> None:
    """Asking for a receipt not made yet answers None and makes sure a job is on its way."""
    request_id = _bought(world)
    world.validate(request_id, True)
    world.relay_jobs()

    assert world.exchange.receipt(ALICE, request_id) is None
    assert world.relay_jobs() == [MakeReceipt(request_id)]


def test_a_stored_receipt_is_given_to_its_owner_only(world: World) -> None:
    """The receipt's URL goes to the owner; an admin is told the purchase is unknown."""
    request_id = _bought(world)
    world.validate(request_id, True)
    world.receipts.put(request_id, b"%PDF-")

    assert world.exchange.receipt(ALICE, request_id) == f"memory://receipts/{request_id}"
    with pytest.raises(UnknownPurchase):
        world.exchange.receipt(ADMIN, request_id)


def test_a_top_up_past_the_wallet_ceiling_changes_nothing(world: World) -> None:
    """A top-up that would carry the balance past MAX_WALLET is refused naming amount."""
    world.fund(USER, MAX_WALLET - 10)

    with pytest.raises(InvalidInput) as refused:
        world.fund(USER, 11)

    assert refused.value.field == "amount"
    assert world.balance(USER) == MAX_WALLET - 10
    assert world.fund(USER, 10) == MAX_WALLET


@pytest.mark.parametrize(
    ("text", "backed"),
    [
        ("Chelsea", Outcome.AWAY),
        ("arsenal", Outcome.HOME),
        ("---", Outcome.DRAW),
        (" Draw", Outcome.DRAW),
    ],
)
def test_a_purchase_names_its_result_as_a_user_writes_it(
    world: World, text: str, backed: Outcome
) -> None:
    """home/draw/away, --- or a team's name (any case) all say which result is backed."""
    world.fund(USER, 1000)

    assert world.buy(USER, result=text).purchase.result is backed


def test_a_result_that_names_neither_team_is_refused_naming_result(world: World) -> None:
    """A result naming no team of the fixture is bad input about ``result``; nothing changes."""
    world.fund(USER, 1000)
    before = world.snapshot()

    with pytest.raises(InvalidInput) as refused:
        world.buy(USER, result="Liverpool")

    assert refused.value.field == "result"
    assert world.snapshot() == before


def test_a_team_name_for_an_unknown_fixture_is_unknown_fixture(world: World) -> None:
    """A team name cannot be read without its fixture: the fixture is reported unknown."""
    with pytest.raises(UnknownFixture):
        world.buy(USER, fixture_id=404, result="Chelsea")


def test_run_job_recomputes_recommendations(world: World) -> None:
    """A Recommend job stores fresh recommendations for its user."""
    world.exchange.run_job(Recommend(USER))

    assert world.exchange.recommendations(USER).updated_at == world.clock.now()


def test_balance_of_a_user_never_seen_is_zero(world: World) -> None:
    """A wallet nobody topped up holds nothing."""
    assert world.exchange.balance("nobody") == 0


def test_the_purchase_list_filters_by_status(world: World) -> None:
    """Listing by status shows only the caller's purchases in that status."""
    request_id = _bought(world)

    assert world.exchange.purchases(ALICE, status=PurchaseStatus.ACCEPTED).items == []
    [pending] = world.exchange.purchases(ALICE, status=PurchaseStatus.PENDING).items
    assert pending.purchase.request_id == request_id
