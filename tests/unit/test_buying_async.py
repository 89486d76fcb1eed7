"""``buy_bonds_async``, the purchase as ``POST /requests`` makes it: what may block runs
off the event loop, a Webpay purchase outlives its caller, a lot wakes the job relay."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

import pytest

from goat_adapters.memory import InMemoryGeolocator
from goat_core.errors import NotEnoughMoney
from goat_core.model import Location, Outcome, PurchaseStatus
from goat_core.services import BuyBonds
from tests.unit.support import USER, World
from tests.waiting import until

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
SANTIAGO = Location("8.8.8.8", "Santiago", "Santiago Metropolitan", "Chile", -33.45, -70.66)


class Threads:
    """Records the thread of each call it wraps; ``hold`` keeps the calls waiting."""

    def __init__(self) -> None:
        self.seen: list[threading.Thread] = []
        self.hold = threading.Event()
        self.hold.set()

    def wrap(self, call: Callable[P, R]) -> Callable[P, R]:
        def recorded(*args: P.args, **kwargs: P.kwargs) -> R:
            self.seen.append(threading.current_thread())
            assert self.hold.wait(timeout=10)
            return call(*args, **kwargs)

        return recorded


def on_a_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` on a new event loop; a TimeoutError after 10 s rather than a hang."""
    return asyncio.run(asyncio.wait_for(work, timeout=10))


def test_a_webpay_purchase_opens_its_transaction_off_the_event_loop(world: World) -> None:
    threads = Threads()
    world.payments.start = threads.wrap(world.payments.start)  # type: ignore[method-assign]
    exchange = world.exchange_with()

    bought = on_a_loop(exchange.buy_bonds_async(BuyBonds(USER, 1, "home", 1, wallet=False)))

    assert bought.payment is not None
    assert world.purchase(bought.purchase.request_id).status is PurchaseStatus.PENDING_PAYMENT
    assert threads.seen
    assert threading.current_thread() not in threads.seen


def test_the_buyer_is_located_off_the_event_loop(world: World) -> None:
    threads = Threads()
    geolocator = InMemoryGeolocator({"8.8.8.8": SANTIAGO})
    geolocator.locate = threads.wrap(geolocator.locate)  # type: ignore[method-assign]
    exchange = world.exchange_with(geolocator=geolocator)
    world.fund(USER, 1000)
    command = BuyBonds(USER, 1, Outcome.HOME, 1, wallet=True, client_ip="8.8.8.8")

    bought = on_a_loop(exchange.buy_bonds_async(command))

    assert bought.purchase.location == SANTIAGO
    assert threads.seen
    assert threading.current_thread() not in threads.seen


def test_a_team_named_as_the_result_is_looked_up_off_the_event_loop(world: World) -> None:
    threads = Threads()
    exchange = world.exchange_with(uow=threads.wrap(world.store.unit_of_work))
    world.fund(USER, 1000)

    bought = on_a_loop(exchange.buy_bonds_async(BuyBonds(USER, 1, "Chelsea", 1, wallet=True)))

    assert bought.purchase.result is Outcome.AWAY
    looked_up = threads.seen[0]  # then the lot's own unit of work, in the writer's thread
    assert looked_up is not threading.current_thread()


def test_a_wallet_purchase_calls_nothing_that_blocks_on_the_event_loop(world: World) -> None:
    """Without Webpay, a geolocator or a team's name, nothing runs before the lot: the only
    unit of work is the lot's, in the writer's thread."""
    threads = Threads()
    exchange = world.exchange_with(uow=threads.wrap(world.store.unit_of_work))
    world.fund(USER, 1000)

    on_a_loop(exchange.buy_bonds_async(BuyBonds(USER, 1, "home", 1, wallet=True)))

    assert len(threads.seen) == 1
    assert threads.seen[0] is not threading.current_thread()


def test_a_webpay_purchase_whose_caller_is_cancelled_is_still_written(world: World) -> None:
    """The buyer went away while Webpay opened the transaction: the purchase is written
    anyway, so that no Webpay transaction is left without its purchase."""
    threads = Threads()
    threads.hold.clear()
    world.payments.start = threads.wrap(world.payments.start)  # type: ignore[method-assign]
    exchange = world.exchange_with()

    async def main() -> None:
        buying = asyncio.create_task(
            exchange.buy_bonds_async(BuyBonds(USER, 1, "home", 1, wallet=False))
        )
        await until(lambda: threads.seen)
        buying.cancel()
        threads.hold.set()
        await until(lambda: world.store.purchases())

    on_a_loop(main())
    (purchase,) = world.store.purchases()
    assert purchase.status is PurchaseStatus.PENDING_PAYMENT
    assert purchase.deposit_token


def test_each_lot_wakes_the_job_relay_after_its_commit(world: World) -> None:
    """A lot queued Recommend jobs: the relays are woken once it is committed."""
    woken: list[int] = []
    exchange = world.exchange_with()
    exchange.on_jobs_queued(lambda: woken.append(len(world.store.purchases())))
    world.fund(USER, 2000)

    async def main() -> None:
        await exchange.buy_bonds_async(BuyBonds(USER, 1, "home", 1, wallet=True))
        exchange.buy_bonds(BuyBonds(USER, 1, "home", 1, wallet=True))

    on_a_loop(main())
    assert woken == [1, 2]  # once per lot, each after its purchase was stored


def test_a_purchase_that_fails_wakes_no_relay(world: World) -> None:
    woken: list[int] = []
    exchange = world.exchange_with()
    exchange.on_jobs_queued(lambda: woken.append(1))

    with pytest.raises(NotEnoughMoney):
        on_a_loop(exchange.buy_bonds_async(BuyBonds(USER, 1, "home", 1, wallet=True)))
    assert woken == []


CALLER: ContextVar[str] = ContextVar("CALLER", default="nobody")


def test_what_calls_out_runs_in_the_callers_context(world: World) -> None:
    """Webpay and the geolocator are called in the caller's context: a request's log
    lines keep its id."""
    seen: list[str] = []
    geolocator = InMemoryGeolocator({"8.8.8.8": SANTIAGO})
    locate, start = geolocator.locate, world.payments.start

    def locate_seen(ip: str) -> Location | None:
        seen.append(CALLER.get())
        return locate(ip)

    def start_seen(*args: Any) -> Any:
        seen.append(CALLER.get())
        return start(*args)

    geolocator.locate = locate_seen  # type: ignore[method-assign]
    world.payments.start = start_seen  # type: ignore[method-assign,assignment]
    exchange = world.exchange_with(geolocator=geolocator)

    async def as_a_request() -> None:
        CALLER.set("request 42")
        command = BuyBonds(USER, 1, "home", 1, wallet=False, client_ip="8.8.8.8")
        await exchange.buy_bonds_async(command)

    on_a_loop(as_a_request())
    assert seen == ["request 42", "request 42"]
