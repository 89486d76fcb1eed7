"""Group commit for coroutines: they share a lot, each gets its own outcome, none holds a
thread while it waits."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.thread import BrokenThreadPool
from typing import Any

import pytest

from goat_core.errors import Unavailable
from goat_core.grouping import AsyncGroupCommit
from tests.unit.test_grouping import Recorder
from tests.waiting import until


async def outcome(group: AsyncGroupCommit[int, int], item: int) -> object:
    """The item's answer, or what it raised (a TimeoutError if left waiting)."""
    try:
        return await asyncio.wait_for(group.submit(item), timeout=10)
    except BaseException as error:  # an interrupt is an outcome too
        return error


def run(main: Callable[[], Coroutine[Any, Any, object]]) -> Any:
    """``main()`` on a new event loop; a TimeoutError after 20 s rather than a hang."""
    return asyncio.run(asyncio.wait_for(main(), timeout=20))


def behind_a_held_lot(
    recorder: Recorder, group: AsyncGroupCommit[int, int], items: Sequence[int]
) -> tuple[object, dict[int, object]]:
    """Submit 2 as a lot that ``recorder`` holds, queue ``items`` behind it, then let all
    finish; the first lot's outcome and the queued items' outcomes."""

    async def main() -> tuple[object, dict[int, object]]:
        recorder.hold.clear()
        first = asyncio.create_task(outcome(group, 2))
        await until(recorder.entered.is_set)
        others = [asyncio.create_task(outcome(group, item)) for item in items]
        await until(lambda: group.waiting == len(items))
        recorder.hold.set()
        return await first, dict(zip(items, await asyncio.gather(*others), strict=True))

    return run(main)  # type: ignore[no-any-return]  # main's own type


def test_a_lone_coroutine_writes_a_lot_of_one() -> None:
    recorder = Recorder()
    group = AsyncGroupCommit(recorder)

    async def main() -> list[int]:
        return [await group.submit(2), await group.submit(4)]

    assert run(main) == [20, 40]
    assert recorder.lots == [[2], [4]]


def test_coroutines_arriving_while_a_lot_is_written_form_the_next_lot() -> None:
    """Items submitted while the writer is busy are applied together, in one lot, in order."""
    recorder = Recorder()
    first, more = behind_a_held_lot(recorder, AsyncGroupCommit(recorder), [4, 6, 8])
    assert recorder.lots == [[2], [4, 6, 8]]
    assert (first, more) == (20, {4: 40, 6: 60, 8: 80})


def test_the_lots_are_written_outside_the_event_loop() -> None:
    """The writer runs in another thread: the loop goes on while a lot is held."""
    recorder = Recorder()
    threads: list[threading.Thread] = []

    def apply(items: Sequence[int]) -> list[int | Exception]:
        threads.append(threading.current_thread())
        return recorder(items)

    group = AsyncGroupCommit(apply)
    assert run(lambda: group.submit(2)) == 20
    assert threads
    assert threading.current_thread() not in threads  # asyncio.run's loop runs here


def test_an_item_refused_within_a_lot_fails_alone() -> None:
    recorder = Recorder()
    _, more = behind_a_held_lot(recorder, AsyncGroupCommit(recorder), [3, 4])
    assert recorder.lots[1] == [3, 4]
    assert more[4] == 40
    assert isinstance(more[3], ValueError)
    assert str(more[3]) == "3 is odd"


def test_a_lot_that_fails_whole_is_retried_item_by_item() -> None:
    recorder = Recorder(fail=lambda lot: 666 in lot)
    _, more = behind_a_held_lot(recorder, AsyncGroupCommit(recorder), [4, 666, 6])
    assert recorder.lots == [[2], [4], [6]]
    assert (more[4], more[6]) == (40, 60)
    assert isinstance(more[666], ValueError)
    assert "refused" in str(more[666])


def test_a_lot_holds_at_most_max_lot_items() -> None:
    recorder = Recorder()
    group = AsyncGroupCommit(recorder, max_lot=2)
    _, more = behind_a_held_lot(recorder, group, [4, 6, 8, 10, 12])
    assert recorder.lots == [[2], [4, 6], [8, 10], [12]]
    assert more == {4: 40, 6: 60, 8: 80, 10: 100, 12: 120}


def test_max_lot_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_lot"):
        AsyncGroupCommit(Recorder(), max_lot=0)


def test_a_cancelled_coroutines_item_is_still_applied() -> None:
    """Cancelling a waiting coroutine (its client went away) does not take its item back,
    and the others of its lot still get their answers."""
    recorder = Recorder()
    group = AsyncGroupCommit(recorder)

    async def main() -> list[object]:
        recorder.hold.clear()
        first = asyncio.create_task(outcome(group, 2))
        await until(recorder.entered.is_set)
        gone = asyncio.create_task(group.submit(4))
        stays = asyncio.create_task(outcome(group, 6))
        await until(lambda: group.waiting == 2)
        gone.cancel()
        recorder.hold.set()
        return [await first, await stays, gone.cancelled()]

    assert run(main) == [20, 60, True]
    assert recorder.lots == [[2], [4, 6]]


class Interrupt(BaseException):
    """Not an Exception: what a lot may not survive (asyncio re-raises KeyboardInterrupt
    out of the loop itself, so the test uses its own)."""


def test_an_interrupt_ends_the_lot_and_those_waiting_and_the_writer_starts_again() -> None:
    recorder = Recorder()

    def apply(items: Sequence[int]) -> list[int | Exception]:
        answers = recorder(items)
        if 13 in items:
            raise Interrupt
        return answers

    group = AsyncGroupCommit(apply)

    async def main() -> tuple[object, dict[int, object]]:
        recorder.hold.clear()
        first = asyncio.create_task(outcome(group, 13))
        await until(recorder.entered.is_set)
        others = [asyncio.create_task(outcome(group, item)) for item in (4, 6)]
        await until(lambda: group.waiting == 2)
        recorder.hold.set()
        return await first, dict(zip((4, 6), await asyncio.gather(*others), strict=True))

    first, more = run(main)
    assert isinstance(first, Interrupt)
    assert all(isinstance(more[item], Interrupt) for item in (4, 6))  # not left waiting
    assert recorder.lots == [[13]]
    assert run(lambda: group.submit(8)) == 80  # the next submit starts a writer again


def test_coroutines_on_two_event_loops_are_each_woken_on_their_own() -> None:
    """One instance, two loops (two threads), one lot holding a coroutine of each: each is
    woken through its own loop (asyncio's debug mode refuses a future set from another
    loop's thread, and then its coroutine is never woken)."""
    recorder = Recorder()
    group = AsyncGroupCommit(recorder)
    recorder.hold.clear()
    queued = threading.Event()
    firsts: list[object] = []

    async def first() -> list[object]:
        held = asyncio.create_task(outcome(group, 2))
        await until(recorder.entered.is_set)
        behind = asyncio.create_task(outcome(group, 6))
        await until(lambda: group.waiting == 1)
        queued.set()
        return [await held, await behind]

    async def second() -> object:
        await until(queued.is_set)
        mine = asyncio.create_task(outcome(group, 4))
        await until(lambda: group.waiting == 2)
        recorder.hold.set()
        return await mine

    seconds: list[object] = []
    loops = [
        threading.Thread(target=lambda: firsts.extend(asyncio.run(first(), debug=True))),
        threading.Thread(target=lambda: seconds.append(asyncio.run(second(), debug=True))),
    ]
    for loop in loops:
        loop.daemon = True  # a coroutine never woken would keep its loop forever
        loop.start()
    for loop in loops:
        loop.join(timeout=20)
    assert (firsts, seconds) == ([20, 60], [40])
    assert recorder.lots == [[2], [6, 4]]  # the second lot's writer was the first loop's


def test_without_an_executor_a_submit_fails_and_the_next_one_writes() -> None:
    """A loop whose executor is shut down starts no writer: its caller gets the error and
    the writer's role stays free for the next caller."""
    recorder = Recorder()
    group = AsyncGroupCommit(recorder)

    async def on_a_loop_without_executor() -> object:
        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(1)
        executor.shutdown()
        loop.set_default_executor(executor)
        return await outcome(group, 2)

    assert isinstance(run(on_a_loop_without_executor), RuntimeError)
    assert run(lambda: outcome(group, 4)) == 40
    assert recorder.lots == [[4]]  # the failed caller's item was not applied later


def test_a_writer_cancelled_before_it_began_fails_those_waiting() -> None:
    """The executor's queue is cancelled while the writer's job waits in it (every thread
    busy): its items fail, and the writer's role is free for the next caller."""
    recorder = Recorder()
    group = AsyncGroupCommit(recorder)
    busy = threading.Event()

    async def on_a_busy_loop() -> object:
        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(1)
        loop.set_default_executor(executor)
        blocker = loop.run_in_executor(None, busy.wait, 10)
        waiting = asyncio.create_task(outcome(group, 2))
        await until(lambda: group.waiting == 1)
        executor.shutdown(wait=False, cancel_futures=True)
        busy.set()
        await blocker
        return await waiting

    assert isinstance(run(on_a_busy_loop), Unavailable)
    assert run(lambda: outcome(group, 4)) == 40
    assert recorder.lots == [[4]]


def test_a_writer_whose_job_fails_before_it_began_fails_those_waiting() -> None:
    """A broken executor fails the writer's job unrun: its items get that failure, and the
    writer's role is free for the next caller."""
    recorder = Recorder()
    group = AsyncGroupCommit(recorder)

    def broken() -> None:
        raise RuntimeError("no thread for you")

    async def on_a_broken_loop() -> object:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(1, initializer=broken))
        return await outcome(group, 2)

    assert isinstance(run(on_a_broken_loop), BrokenThreadPool)
    assert run(lambda: outcome(group, 4)) == 40
    assert recorder.lots == [[4]]
