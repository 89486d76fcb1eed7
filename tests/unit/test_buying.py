"""Our users buying bonds (CONTRACT §2, §3, POST /requests)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs
import pytest

from goat_adapters.memory import InMemoryAsyncSaleLedger, InMemoryStore, InMemoryUnitOfWork
from goat_core.errors import (
    Busy,
    Deadlock,
    FixtureStarted,
    GoatError,
    InvalidInput,
    NotEnoughBonds,
    NotEnoughMoney,
    Unavailable,
    UnknownFixture,
)
from goat_core.jobs import Job, Recommend
from goat_core.model import LedgerKind, Outcome, PurchaseStatus, Rules
from goat_core.ports import Sale
from goat_core.services import Bought, BuyBonds
from goat_core.wire import TOPIC_REQUESTS
from tests.unit.support import KICKOFF, USER, World, make_fixture
from tests.waiting import until, wait_until


def test_wallet_purchase_debits_reserves_and_announces_at_once(world: World) -> None:
    """A wallet purchase debits the cost, reserves the bonds and queues its request together."""
    world.fund(USER, 5000)

    bought = world.buy(USER, 1, Outcome.HOME, 3)

    purchase = world.purchase(bought.purchase.request_id)
    assert purchase.status is PurchaseStatus.PENDING
    assert (purchase.quantity, purchase.reserved, purchase.wallet) == (3, 3, True)
    assert bought.payment is None
    assert world.balance(USER) == 2000
    assert world.ledger(USER)[-1].kind is LedgerKind.PURCHASE
    assert world.ledger(USER)[-1].amount == -3000
    assert world.ledger(USER)[-1].reference == purchase.request_id
    assert world.available(1) == 37
    assert [m["request_id"] for m in world.published(TOPIC_REQUESTS)] == [purchase.request_id]


def test_published_request_matches_the_contract(world: World) -> None:
    """Our request message has every CONTRACT §3 field, in the documented formats."""
    world.fund(USER, 5000)
    world.clock.current = world.clock.current.replace(hour=18, minute=22, second=5, microsecond=7)

    request_id = world.buy(USER, 1, Outcome.AWAY, 2).purchase.request_id

    (message,) = world.published(TOPIC_REQUESTS)
    assert message == {
        "request_id": request_id,
        "group_id": "15",
        "fixture_id": 1,
        "league_name": "Premier League",
        "round": "Regular Season - 12",
        "date": "2024-10-05",
        "result": "Chelsea",
        "deposit_token": "",
        "datetime": "2024-10-01T18:22:05 UTC",
        "quantity": 2,
        "wallet": True,
        "seller": 0,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d UTC", message["datetime"])


def test_a_draw_is_announced_as_dashes(world: World) -> None:
    """A bet on a draw goes out with result "---"."""
    world.fund(USER, 1000)

    world.buy(USER, 1, Outcome.DRAW, 1)

    assert world.published(TOPIC_REQUESTS)[0]["result"] == "---"


def test_webpay_purchase_waits_for_payment(world: World) -> None:
    """A Webpay purchase reserves bonds, is pending_payment and carries the payment token."""
    bought = world.buy(USER, 1, Outcome.HOME, 2, wallet=False)

    purchase = world.purchase(bought.purchase.request_id)
    assert bought.payment is not None
    assert purchase.status is PurchaseStatus.PENDING_PAYMENT
    assert purchase.deposit_token == bought.payment.token
    assert purchase.payment_url == bought.payment.url
    assert purchase.buy_order is not None
    assert 0 < len(purchase.buy_order) <= 26
    assert world.payments.started[bought.payment.token] == (purchase.buy_order, 2000)
    assert world.available(1) == 38
    assert world.ledger(USER) == []
    (message,) = world.published(TOPIC_REQUESTS)
    assert (message["deposit_token"], message["wallet"]) == (bought.payment.token, False)


def test_webpay_session_id_does_not_reveal_the_user(world: World) -> None:
    """The session id sent to Webpay (and back in its return URL) is not the user's id."""
    bought = world.buy(USER, 1, Outcome.HOME, 1, wallet=False)

    assert bought.payment is not None
    session = world.payments.sessions[bought.payment.token]
    assert session
    assert USER not in session


def test_each_purchase_queues_a_recommendation(world: World) -> None:
    """A purchase commits a recommendation job for its buyer, queued when the outbox is relayed."""
    world.fund(USER, 1000)

    world.buy(USER, 1, Outcome.HOME, 1)

    assert world.jobs.enqueued == []
    assert world.relay_jobs() == [Recommend(USER)]


def test_a_burst_of_purchases_by_one_user_costs_one_recompute(world: World) -> None:
    """Several purchases by one user before the relay runs queue one recommendation job."""
    world.fund(USER, 5000)
    world.fund("auth0|bob", 5000)

    for _ in range(3):
        world.buy(USER, 1, Outcome.HOME, 1)
    world.buy("auth0|bob", 1, Outcome.AWAY, 1)

    assert world.relay_jobs() == [Recommend(USER), Recommend("auth0|bob")]
    assert world.relay_jobs() == []


def test_purchases_go_on_while_the_job_queue_is_down(world: World) -> None:
    """With the job queue down a purchase still succeeds, and its job is queued once it is back."""
    world.fund(USER, 1000)
    world.jobs.down = True

    world.buy(USER, 1, Outcome.HOME, 1)
    with pytest.raises(Unavailable):
        world.relay_jobs()
    world.jobs.down = False

    assert world.relay_jobs() == [Recommend(USER)]


def test_unknown_fixture_changes_nothing(world: World) -> None:
    """Buying on a fixture we do not know raises UnknownFixture (404) and changes nothing."""
    world.fund(USER, 5000)
    before = world.snapshot()

    with pytest.raises(UnknownFixture):
        world.buy(USER, 999, Outcome.HOME, 1)

    assert world.snapshot() == before


def test_not_enough_bonds_changes_nothing(world: World) -> None:
    """Asking for more bonds than are left raises NotEnoughBonds (409) and changes nothing."""
    world.fund(USER, 100_000)
    world.buy(USER, 1, Outcome.HOME, 39)
    before = world.snapshot()

    with pytest.raises(NotEnoughBonds):
        world.buy(USER, 1, Outcome.HOME, 2)
    with pytest.raises(NotEnoughBonds):
        world.buy(USER, 1, Outcome.HOME, 2, wallet=False)

    assert world.snapshot() == before
    assert world.available(1) == 1


def test_not_enough_money_changes_nothing(world: World) -> None:
    """A wallet that cannot pay raises NotEnoughMoney (402) and changes nothing."""
    world.fund(USER, 1999)
    before = world.snapshot()

    with pytest.raises(NotEnoughMoney):
        world.buy(USER, 1, Outcome.HOME, 2)

    assert world.snapshot() == before
    assert world.available(1) == 40


def test_a_user_without_wallet_cannot_pay(world: World) -> None:
    """Someone who never topped up gets NotEnoughMoney, not a negative balance."""
    with pytest.raises(NotEnoughMoney):
        world.buy("auth0|new", 1, Outcome.HOME, 1)

    assert world.store.purchases() == []


@pytest.mark.parametrize("status", ["1H", "HT", "FT", "PST"])
def test_started_fixture_is_not_on_sale(world: World, status: str) -> None:
    """A fixture whose status left "not started" raises FixtureStarted (422), changing nothing."""
    world.fund(USER, 5000)
    world.add_fixtures(make_fixture(2, status=status))
    before = world.snapshot()

    with pytest.raises(FixtureStarted):
        world.buy(USER, 2, Outcome.HOME, 1)

    assert world.snapshot() == before


def test_fixture_past_its_kickoff_is_not_on_sale(world: World) -> None:
    """Once the kick-off time passes the fixture is off sale even if still marked NS."""
    world.fund(USER, 5000)
    world.clock.current = KICKOFF + timedelta(seconds=1)

    with pytest.raises(FixtureStarted):
        world.buy(USER, 1, Outcome.HOME, 1)

    assert world.store.purchases() == []


@pytest.mark.parametrize("quantity", [0, -1])
def test_quantity_below_one_is_invalid(world: World, quantity: int) -> None:
    """A quantity below 1 raises InvalidInput naming "quantity", changing nothing."""
    world.fund(USER, 5000)
    before = world.snapshot()

    with pytest.raises(InvalidInput) as raised:
        world.buy(USER, 1, Outcome.HOME, quantity)

    assert raised.value.field == "quantity"
    assert world.snapshot() == before


def test_quantity_above_the_fixture_size_is_invalid(world: World) -> None:
    """More bonds than a fixture ever has is InvalidInput naming "quantity"."""
    world.fund(USER, 100_000)

    with pytest.raises(InvalidInput) as raised:
        world.buy(USER, 1, Outcome.HOME, 41)

    assert raised.value.field == "quantity"


def test_the_last_bond_can_be_bought(world: World) -> None:
    """Buying exactly what is left succeeds and leaves availability at 0."""
    world.fund(USER, 40_000)

    world.buy(USER, 1, Outcome.HOME, 40)

    assert world.available(1) == 0
    assert world.balance(USER) == 0


def test_bond_price_and_size_are_settings() -> None:
    """The bond price and bonds per fixture come from Rules, not constants."""
    world = World(rules=Rules(group_id="3", bond_price=500, bonds_per_fixture=4))
    world.add_fixtures(make_fixture(1))
    world.fund(USER, 2000)

    world.buy(USER, 1, Outcome.HOME, 4)

    assert world.available(1) == 0
    assert world.balance(USER) == 0
    assert world.published(TOPIC_REQUESTS)[0]["group_id"] == "3"


# -- purchases made at the same moment ----------------------------------------------------


@attrs.define
class Commits:
    """The commits tried: the first waits for ``release``, so that other buyers queue
    meanwhile; the next ``fails`` raise ``fail`` if given."""

    fail: Exception | None
    fails: int
    release: threading.Event = attrs.Factory(threading.Event)
    tried: list[int] = attrs.Factory(list)

    def next_is_first(self) -> bool:
        """Count a commit; True for the first (the caller waits for ``release``)."""
        self.tried.append(len(self.tried))
        if len(self.tried) > 1 and self.fail is not None and len(self.tried) <= 1 + self.fails:
            raise self.fail
        return len(self.tried) == 1


class HeldFirstCommit(InMemoryUnitOfWork):
    def __init__(self, store: InMemoryStore, commits: Commits) -> None:
        super().__init__(store)
        self.commits = commits

    def commit(self) -> None:
        if self.commits.next_is_first():
            assert self.commits.release.wait(timeout=10)
        super().commit()


class HeldFirstRecord(InMemoryAsyncSaleLedger):
    """``HeldFirstCommit`` for lots written on the event loop."""

    def __init__(self, store: InMemoryStore, commits: Commits) -> None:
        super().__init__(store.unit_of_work)
        self.commits = commits

    async def record(self, sales: Sequence[Sale], now: datetime, jobs: Sequence[Job] = ()) -> None:
        if self.commits.next_is_first():
            await until(self.commits.release.is_set)
        await super().record(sales, now, jobs)


def buy_together(
    world: World,
    *buyers: tuple[str, int],
    fail: Exception | None = None,
    fails: int = 1_000,
    mode: str = "threads",
) -> tuple[list[object], int]:
    """The first buyer's purchase holds its commit while the others queue; their outcomes
    (a Bought or an error, in order) and the number of commits tried. The next ``fails``
    commits raise ``fail``. The buyers are threads calling ``buy_bonds`` (``mode``
    "threads"), or tasks awaiting ``buy_bonds_async`` on one event loop, their lots
    written by a thread through units of work ("coroutines") or on the loop through an
    ``AsyncSaleLedger`` ("loop")."""
    script = Commits(fail, fails)
    commits, release = script.tried, script.release
    if mode == "loop":
        exchange = world.exchange_with(async_sales=HeldFirstRecord(world.store, script))
    else:
        exchange = world.exchange_with(uow=lambda: HeldFirstCommit(world.store, script))
    outcomes: list[object] = [None] * len(buyers)

    def command(i: int) -> BuyBonds:
        user, fixture_id = buyers[i]
        return BuyBonds(user, fixture_id, Outcome.HOME, 1, True)

    def buy(i: int) -> None:
        try:
            outcomes[i] = exchange.buy_bonds(command(i))
        except GoatError as error:
            outcomes[i] = error

    async def buy_async(i: int) -> None:
        try:
            outcomes[i] = await asyncio.wait_for(exchange.buy_bonds_async(command(i)), 10)
        except GoatError as error:
            outcomes[i] = error

    async def on_a_loop() -> None:
        first = asyncio.create_task(buy_async(0))
        await until(lambda: commits)
        others = [asyncio.create_task(buy_async(i)) for i in range(1, len(buyers))]
        await until(lambda: exchange.purchasing.waiting == len(others))
        release.set()
        await asyncio.gather(first, *others)

    if mode != "threads":
        asyncio.run(on_a_loop())
        return outcomes, len(commits)
    first = threading.Thread(target=buy, args=(0,))
    first.start()
    wait_until(lambda: commits, what="the first purchase's commit")
    others = [threading.Thread(target=buy, args=(i,)) for i in range(1, len(buyers))]
    for thread in others:
        thread.start()
    wait_until(lambda: exchange.purchasing.waiting == len(others), what="the others to queue")
    release.set()
    for thread in [first, *others]:
        thread.join(timeout=10)
    return outcomes, len(commits)


TOGETHER = pytest.mark.parametrize("mode", ["threads", "coroutines", "loop"])


@TOGETHER
def test_purchases_made_at_the_same_moment_share_one_transaction(world: World, mode: str) -> None:
    """Buyers arriving while a purchase is being written are written together: one commit."""
    users = [f"user-{i}" for i in range(4)]
    for user in users:
        world.fund(user, 1000)

    outcomes, commits = buy_together(world, *((user, 1) for user in users), mode=mode)

    assert all(isinstance(outcome, Bought) for outcome in outcomes)
    assert commits == 2  # the held purchase, then the three that queued behind it
    assert world.available(1) == 36
    assert [world.balance(user) for user in users] == [0, 0, 0, 0]
    assert len(world.published(TOPIC_REQUESTS)) == 4


@TOGETHER
def test_a_purchase_that_fails_among_others_fails_alone(world: World, mode: str) -> None:
    """In a lot, an unknown fixture or an empty wallet fails only its own purchase."""
    world.fund(USER, 1000)  # one bond's worth
    world.fund("bob", 5000)

    outcomes, commits = buy_together(
        world, ("bob", 1), (USER, 1), (USER, 1), ("bob", 404), mode=mode
    )

    assert commits == 2  # the three that queued went in one lot: no one-by-one retry
    assert isinstance(outcomes[0], Bought)
    assert sorted(type(o).__name__ for o in outcomes[1:3]) == ["Bought", "NotEnoughMoney"]
    assert isinstance(outcomes[3], UnknownFixture)
    assert (world.balance(USER), world.balance("bob")) == (0, 4000)
    assert world.available(1) == 38
    assert len(world.store.purchases()) == 2
    assert len(world.published(TOPIC_REQUESTS)) == 2


@TOGETHER
@pytest.mark.parametrize(("aborts", "outcome"), [(1, "Bought"), (2, "Deadlock")])
def test_a_lot_aborted_to_break_a_deadlock_is_written_once_more(
    world: World, mode: str, aborts: int, outcome: str
) -> None:
    """The database aborted the lot to break a lock cycle: it is written again at once, and
    every buyer gets their bonds. Once more only: a second abort is every buyer's error
    (409 busy, with Retry-After)."""
    users = [f"user-{i}" for i in range(4)]
    for user in users:
        world.fund(user, 1000)

    outcomes, commits = buy_together(
        world,
        *((user, 1) for user in users),
        fail=Deadlock("deadlock"),
        fails=aborts,
        mode=mode,
    )

    assert [type(o).__name__ for o in outcomes] == ["Bought", outcome, outcome, outcome]
    assert commits == 3  # the held lot, the aborted one, the same once more
    assert world.available(1) == (36 if outcome == "Bought" else 39)


@TOGETHER
def test_a_busy_database_fails_the_whole_lot_at_once(world: World, mode: str) -> None:
    """Busy is no one purchase's fault: every queued buyer gets it after one attempt."""
    users = [f"user-{i}" for i in range(4)]
    for user in users:
        world.fund(user, 1000)

    outcomes, commits = buy_together(
        world, *((user, 1) for user in users), fail=Busy("lock not granted"), mode=mode
    )

    assert isinstance(outcomes[0], Bought)
    assert [type(o).__name__ for o in outcomes[1:]] == ["Busy", "Busy", "Busy"]
    assert len({id(o) for o in outcomes[1:]}) == 3  # each caller raises its own error
    assert commits == 2  # the held lot, then one try for the three: not one try each
    assert world.available(1) == 39
