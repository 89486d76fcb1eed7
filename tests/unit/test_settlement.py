"""Settling accepted bonds from fixtures/history (CONTRACT §2)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from goat_core.jobs import MakeReceipt, Recommend
from goat_core.model import LedgerKind, Odds, Outcome, PurchaseStatus, payout
from goat_core.services import Handled
from goat_core.wire import TOPIC_HISTORY
from tests.unit.support import USER, World, make_fixture, sample_text


def _accepted(world: World, outcome: Outcome, quantity: int = 1, fixture_id: int = 1) -> str:
    world.fund(USER, quantity * 1000)
    request_id = world.buy(USER, fixture_id, outcome, quantity).purchase.request_id
    world.validate(request_id, True)
    return request_id


def _recomputes(world: World) -> list[Recommend]:
    """The recommendation jobs the job outbox hands over now."""
    return [job for job in world.relay_jobs() if isinstance(job, Recommend)]


def _payouts(world: World) -> list[int]:
    return [e.amount for e in world.ledger(USER) if e.kind is LedgerKind.PAYOUT]


def test_winning_bonds_pay_quantity_times_price_times_odd(world: World) -> None:
    """An accepted winning bet pays quantity × price × odd into the wallet and is won."""
    request_id = _accepted(world, Outcome.HOME, 3)

    assert world.result(1, "FT", 2, 1) == Handled.APPLIED

    purchase = world.purchase(request_id)
    assert purchase.status is PurchaseStatus.WON
    assert purchase.payout == 5550  # 3 × 1000 × 1.85
    assert world.balance(USER) == 5550
    assert _payouts(world) == [5550]
    assert world.ledger(USER)[-1].reference == request_id


def test_wrong_prediction_pays_nothing(world: World) -> None:
    """An accepted losing bet is lost with payout 0 and no ledger entry."""
    request_id = _accepted(world, Outcome.AWAY, 2)

    world.result(1, "FT", 2, 1)

    purchase = world.purchase(request_id)
    assert (purchase.status, purchase.payout) == (PurchaseStatus.LOST, 0)
    assert _payouts(world) == []
    assert world.balance(USER) == 0


def test_equal_goals_are_a_draw(world: World) -> None:
    """Equal goals settle draw bets as won and side bets as lost."""
    draw = _accepted(world, Outcome.DRAW)
    home = _accepted(world, Outcome.HOME)

    world.result(1, "AET", 2, 2)

    assert world.purchase(draw).status is PurchaseStatus.WON
    assert world.purchase(draw).payout == 3400
    assert world.purchase(home).status is PurchaseStatus.LOST


@pytest.mark.parametrize("status", ["FT", "AET", "PEN"])
def test_every_finished_status_settles(world: World, status: str) -> None:
    """FT, AET and PEN all settle."""
    request_id = _accepted(world, Outcome.AWAY)

    world.result(1, status, 0, 1)

    assert world.purchase(request_id).status is PurchaseStatus.WON


@pytest.mark.parametrize(
    ("status", "home", "away"),
    [("HT", 1, 0), ("2H", 2, 0), ("NS", None, None), ("FT", None, None), ("FT", 1, None)],
)
def test_unfinished_results_settle_nothing(
    world: World, status: str, home: int | None, away: int | None
) -> None:
    """A result without a finished status and both goals leaves purchases accepted."""
    request_id = _accepted(world, Outcome.HOME)

    world.result(1, status, home, away)

    assert world.purchase(request_id).status is PurchaseStatus.ACCEPTED
    assert _payouts(world) == []


def test_settlement_happens_once(world: World) -> None:
    """The same final result delivered again, even re-worded, pays only once."""
    _accepted(world, Outcome.HOME, 2)
    world.result(1, "FT", 1, 0)
    before = world.snapshot()

    assert world.result(1, "FT", 1, 0) == Handled.DUPLICATE
    world.result(1, "AET", 1, 0)
    world.result(1, "PEN", 3, 0)

    assert world.snapshot()[1:4] == before[1:4]  # purchases, users, ledger
    assert _payouts(world) == [3700]


def test_payout_rounds_half_up() -> None:
    """A payout ending in exactly half a peso rounds up, never to even."""
    world = World()
    world.add_fixtures(
        make_fixture(1, odds=Odds(Decimal("1.0005"), Decimal("1.0015"), Decimal("2.5")))
    )
    home = _accepted(world, Outcome.HOME)  # 1000 × 1.0005 = 1000.5

    world.result(1, "FT", 1, 0)

    assert world.purchase(home).payout == 1001
    assert payout(1, 1000, Decimal("1.0005")) == 1001
    assert payout(1, 1000, Decimal("1.0025")) == 1003  # banker's rounding would give 1002
    assert payout(3, 1000, Decimal("1.85")) == 5550


def test_pending_purchases_are_not_settled(world: World) -> None:
    """Only accepted purchases are settled; pending and rejected ones stay as they are."""
    world.fund(USER, 2000)
    pending = world.buy(USER, 1, Outcome.HOME, 1).purchase.request_id
    rejected = world.buy(USER, 1, Outcome.HOME, 1).purchase.request_id
    world.validate(rejected, False)

    world.result(1, "FT", 1, 0)

    assert world.purchase(pending).status is PurchaseStatus.PENDING
    assert world.purchase(rejected).status is PurchaseStatus.REJECTED
    assert _payouts(world) == []


def test_purchase_accepted_after_the_end_is_settled_on_acceptance(world: World) -> None:
    """A purchase validated after its fixture finished is settled at once."""
    world.fund(USER, 2000)
    request_id = world.buy(USER, 1, Outcome.HOME, 2).purchase.request_id
    world.result(1, "FT", 3, 0)

    world.validate(request_id, True)

    assert world.purchase(request_id).status is PurchaseStatus.WON
    assert world.balance(USER) == 3700


def test_late_unfinished_result_does_not_reopen_a_finished_fixture(world: World) -> None:
    """An in-play result arriving after the final one leaves the fixture finished."""
    world.fund(USER, 1000)
    request_id = world.buy(USER, 1, Outcome.HOME, 1).purchase.request_id
    world.result(1, "FT", 2, 0)
    world.result(1, "2H", 1, 0)  # delivered late, out of order

    world.validate(request_id, True)

    assert world.fixture(1).status == "FT"
    assert world.purchase(request_id).status is PurchaseStatus.WON


def test_peer_purchases_are_settled_without_payout(world: World) -> None:
    """Another group's winning bonds are marked won here but pay no wallet of ours."""
    world.peer_request("peer-1", quantity=2)
    world.validate("peer-1", True)

    world.result(1, "FT", 1, 0)

    purchase = world.purchase("peer-1")
    assert (purchase.status, purchase.payout) == (PurchaseStatus.WON, 0)
    assert world.store.ledger() == []


def test_settled_bonds_stay_sold(world: World) -> None:
    """Settling does not give bonds back to the fixture."""
    _accepted(world, Outcome.HOME, 5)

    world.result(1, "FT", 1, 0)

    assert world.available(1) == 35


def test_result_for_unknown_fixture_is_skipped(world: World) -> None:
    """A history entry for a fixture we never saw changes nothing and is not an error."""
    before = world.snapshot()

    assert world.result(424242, "FT", 1, 0) == Handled.APPLIED

    assert world.snapshot()[1:] == before[1:]
    assert world.store.dead_letters() == []


def test_history_sample_settles_known_fixtures() -> None:
    """The real history capture settles our accepted bets on the sample fixtures."""
    world = World()
    world.exchange.receive("fixtures/info", sample_text("fixtures_info.json"))
    won = _accepted(world, Outcome.HOME, 1, fixture_id=1208083)  # Brentford 5-3 Wolves
    lost = _accepted(world, Outcome.HOME, 1, fixture_id=1208087)  # Everton 0-0 Newcastle
    open_ = _accepted(world, Outcome.HOME, 1, fixture_id=1208082)  # not started yet

    assert world.exchange.receive(TOPIC_HISTORY, sample_text("history.json")) == Handled.APPLIED

    assert world.purchase(won).status is PurchaseStatus.WON
    assert world.purchase(won).payout == 2050
    assert world.purchase(lost).status is PurchaseStatus.LOST
    assert world.purchase(open_).status is PurchaseStatus.ACCEPTED


def test_a_win_queues_the_winners_recommendations(world: World) -> None:
    """Settling a won purchase of ours adds a Recommend job for its buyer in that transaction."""
    _accepted(world, Outcome.HOME, 2)
    world.relay_jobs()  # the purchase's own recompute and the receipt

    world.result(1, "FT", 2, 1)

    assert _recomputes(world) == [Recommend(USER)]


def test_a_loss_or_a_repeated_result_queues_no_recommendation(world: World) -> None:
    """A lost purchase changes no won bonds, and a result heard again settles nothing: no job."""
    _accepted(world, Outcome.AWAY, 1)
    world.relay_jobs()

    world.result(1, "FT", 2, 1)
    world.result(1, "FT", 2, 1)

    assert _recomputes(world) == []


def test_a_win_settled_on_acceptance_queues_the_recommendation_too(world: World) -> None:
    """A purchase accepted after its fixture ended is won at once; its buyer's recompute queued."""
    world.fund(USER, 1000)
    request_id = world.buy(USER, 1, Outcome.HOME, 1).purchase.request_id
    world.result(1, "FT", 3, 0)
    world.relay_jobs()

    world.validate(request_id, True)

    jobs = world.relay_jobs()
    assert MakeReceipt(request_id) in jobs
    assert Recommend(USER) in jobs


def test_a_peer_win_queues_nothing(world: World) -> None:
    """Another group's winning bonds are none of our users' recommendations."""
    world.peer_request("peer-1", quantity=2)
    world.validate("peer-1", True)

    world.result(1, "FT", 1, 0)

    assert _recomputes(world) == []


def test_the_winners_recommendations_count_the_new_win(world: World) -> None:
    """Running the jobs a settlement queued leaves recommendations built from the new win."""
    world.add_fixtures(make_fixture(2, home="Chelsea", away="Arsenal"))
    _accepted(world, Outcome.HOME, 2)
    world.jobs.run = world.exchange.run_job

    world.result(1, "FT", 2, 1)
    world.relay_jobs()

    assert world.exchange.recommendations(USER).items
