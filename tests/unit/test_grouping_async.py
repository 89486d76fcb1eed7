"""Group commit for coroutines: they share a lot, each gets its own outcome, none holds a
thread while it waits, and the lots are written on the event loop itself."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import pytest

from goat_core.errors import Unavailable
from goat_core.grouping import AsyncGroupCommit
from tests.unit.test_grouping import Recorder
from tests.waiting import until


class AsyncRecorder(Recorder):
    """``Recorder`` as a coroutine: its lots are applied in a thread, so that ``hold``
    keeps a lot open while the loop goes on."""

    async def apply(self, items: Sequence[int]) -> list[int | Exception]:
        return await asyncio.to_thread(self, items)


class Interrupt(BaseException):
    """Not an Exception: what a lot may not survive (asyncio re-raises KeyboardInterrupt
    out of the loop itself, so the test uses its own)."""


def grouped(recorder: AsyncRecorder, max_lot: int = 100) -> AsyncGroupCommit[int, int]:
    return AsyncGroupCommit(recorder.apply, max_lot=max_lot)


async def outcome(group: AsyncGroupCommit[int, int], item: int) -> object:
    """The item's answer, or what it raised (a TimeoutError if left waiting)."""
    try:
        return await asyncio.wait_for(group.submit(item), timeout=10)
    except BaseException as error:  # an interrupt is an outcome too
        return error


async def outcome_of(task: asyncio.Task[int]) -> object:
    try:
        return await task
    except Exception as error:
        return error


def run(main: Callable[[], Coroutine[Any, Any, object]]) -> Any:
    """``main()`` on a new event loop; a TimeoutError after 20 s rather than a hang."""
    return asyncio.run(asyncio.wait_for(main(), timeout=20))


def behind_a_held_lot(
    recorder: AsyncRecorder, group: AsyncGroupCommit[int, int], items: Sequence[int]
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


def the_writer() -> asyncio.Task[Any]:
    """The running loop's lot writer."""
    return next(t for t in asyncio.all_tasks() if "_write_all" in t.get_coro().__qualname__)  # type: ignore[union-attr]


def test_a_lone_coroutine_writes_a_lot_of_one() -> None:
    recorder = AsyncRecorder()
    group = grouped(recorder)

    async def main() -> list[int]:
        return [await group.submit(2), await group.submit(4)]

    assert run(main) == [20, 40]
    assert recorder.lots == [[2], [4]]


def test_coroutines_arriving_while_a_lot_is_written_form_the_next_lot() -> None:
    """Items submitted while the writer is busy are applied together, in one lot, in order."""
    recorder = AsyncRecorder()
    first, more = behind_a_held_lot(recorder, grouped(recorder), [4, 6, 8])
    assert recorder.lots == [[2], [4, 6, 8]]
    assert (first, more) == (20, {4: 40, 6: 60, 8: 80})


REQUEST = contextvars.ContextVar("REQUEST", default="none")


def test_the_lots_are_written_on_the_event_loop_in_no_requests_context() -> None:
    """The writer is a task of the caller's loop (no thread of its own), and what the
    first caller had in its context (a request id for the log lines) is not the lot's."""
    seen: list[tuple[threading.Thread, str]] = []

    async def apply(items: Sequence[int]) -> list[int | Exception]:
        seen.append((threading.current_thread(), REQUEST.get()))
        return [item * 10 for item in items]

    group = AsyncGroupCommit(apply)

    async def main() -> int:
        REQUEST.set("request-1")
        return await group.submit(2)

    assert run(main) == 20
    assert seen == [(threading.current_thread(), "none")]  # asyncio.run's loop runs here


def test_an_item_refused_within_a_lot_fails_alone() -> None:
    recorder = AsyncRecorder()
    _, more = behind_a_held_lot(recorder, grouped(recorder), [3, 4])
    assert recorder.lots[1] == [3, 4]
    assert more[4] == 40
    assert isinstance(more[3], ValueError)
    assert str(more[3]) == "3 is odd"


def test_a_lot_that_fails_whole_is_retried_item_by_item() -> None:
    recorder = AsyncRecorder(fail=lambda lot: 666 in lot)
    _, more = behind_a_held_lot(recorder, grouped(recorder), [4, 666, 6])
    assert recorder.lots == [[2], [4], [6]]
    assert (more[4], more[6]) == (40, 60)
    assert isinstance(more[666], ValueError)
    assert "refused" in str(more[666])


def test_a_lot_holds_at_most_max_lot_items() -> None:
    recorder = AsyncRecorder()
    _, more = behind_a_held_lot(recorder, grouped(recorder, max_lot=2), [4, 6, 8, 10, 12])
    assert recorder.lots == [[2], [4, 6], [8, 10], [12]]
    assert more == {4: 40, 6: 60, 8: 80, 10: 100, 12: 120}


def test_a_lot_answered_with_no_list_is_retried_item_by_item() -> None:
    """``apply_lot`` broke its promise (no answers for a lot): the lot is retried one item
    at a time, as any failed lot, and every caller gets its own answer."""
    recorder = AsyncRecorder()

    async def apply(items: Sequence[int]) -> list[int | Exception]:
        answers = await recorder.apply(items)
        return None if len(items) > 1 else answers  # type: ignore[return-value]  # the bug

    _, more = behind_a_held_lot(recorder, AsyncGroupCommit(apply), [4, 6, 8])
    assert more == {4: 40, 6: 60, 8: 80}
    assert recorder.lots == [[2], [4, 6, 8], [4], [6], [8]]


def test_a_lot_given_too_few_answers_fails_each_item_and_leaves_none_waiting() -> None:
    recorder = AsyncRecorder()

    async def apply(items: Sequence[int]) -> list[int | Exception]:
        return (await recorder.apply(items))[:1]  # the bug: one answer, whatever the lot

    _, more = behind_a_held_lot(recorder, AsyncGroupCommit(apply), [4, 6])
    assert all(isinstance(more[item], RuntimeError) for item in (4, 6))
    assert all("no outcome" in str(more[item]) for item in (4, 6))


def test_an_interrupt_while_retrying_item_by_item_leaves_no_caller_waiting() -> None:
    """A BaseException during the one-by-one retry ends every item not answered yet with
    it; one answered before keeps its answer; the next submit writes again."""
    recorder = AsyncRecorder(fail=lambda lot: len(lot) > 1)

    async def apply(items: Sequence[int]) -> list[int | Exception]:
        if items == [13]:
            raise Interrupt
        return await recorder.apply(items)

    group = AsyncGroupCommit(apply)
    _, more = behind_a_held_lot(recorder, group, [4, 13, 6])
    assert more[4] == 40
    assert isinstance(more[13], Interrupt)
    assert isinstance(more[6], Interrupt)  # not left waiting
    assert run(lambda: group.submit(8)) == 80


def test_max_lot_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_lot"):
        grouped(AsyncRecorder(), max_lot=0)


def test_a_cancelled_coroutines_item_is_still_applied() -> None:
    """Cancelling a waiting coroutine (its client went away) does not take its item back,
    and the others of its lot still get their answers."""
    recorder = AsyncRecorder()
    group = grouped(recorder)

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


def test_an_interrupt_ends_the_lot_and_those_waiting_and_the_writer_starts_again() -> None:
    recorder = AsyncRecorder()

    async def apply(items: Sequence[int]) -> list[int | Exception]:
        answers = await recorder.apply(items)
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


def test_a_cancelled_writer_fails_its_lot_and_those_waiting_and_the_next_submit_writes() -> None:
    """The writer is cancelled (its loop shuts down) while a lot is written: that lot's
    coroutines and those queued behind it get ``Unavailable``, none is left waiting."""
    recorder = AsyncRecorder()
    group = grouped(recorder)

    async def main() -> list[object]:
        recorder.hold.clear()
        first = asyncio.create_task(outcome(group, 2))
        await until(recorder.entered.is_set)
        behind = asyncio.create_task(outcome(group, 4))
        await until(lambda: group.waiting == 1)
        the_writer().cancel()
        outcomes = [await first, await behind]
        recorder.hold.set()
        return [*outcomes, await outcome(group, 6)]

    first, behind, later = run(main)
    assert isinstance(first, Unavailable)
    assert isinstance(behind, Unavailable)
    assert later == 60
    assert group.waiting == 0


def test_a_writer_cancelled_before_it_began_fails_those_waiting() -> None:
    recorder = AsyncRecorder()
    group = grouped(recorder)

    async def main() -> list[object]:
        waiting = asyncio.create_task(group.submit(2))
        await asyncio.sleep(0)  # it submitted: its writer is scheduled, not begun
        the_writer().cancel()
        return [await outcome_of(waiting), await outcome(group, 4)]

    first, later = run(main)
    assert isinstance(first, Unavailable)
    assert later == 40
    assert recorder.lots == [[4]]


def test_each_event_loop_writes_its_own_lots() -> None:
    """One instance, two loops (two threads): a lot held on one loop does not hold the
    other's coroutines, and each is answered on its own loop (asyncio's debug mode refuses
    a future set from another loop's thread)."""
    held = AsyncRecorder()
    held.hold.clear()

    async def apply(items: Sequence[int]) -> list[int | Exception]:
        if 2 in items:
            return await held.apply(items)
        return [item * 10 for item in items]

    group = AsyncGroupCommit(apply)
    seconds: list[object] = []

    async def first() -> object:
        return await outcome(group, 2)

    async def second() -> object:
        await until(held.entered.is_set)
        return await outcome(group, 4)

    firsts: list[object] = []
    loops = [
        threading.Thread(target=lambda: firsts.append(asyncio.run(first(), debug=True))),
        threading.Thread(target=lambda: seconds.append(asyncio.run(second(), debug=True))),
    ]
    for loop in loops:
        loop.daemon = True  # a coroutine never woken would keep its loop forever
        loop.start()
    loops[1].join(timeout=20)
    assert seconds == [40]  # while the first loop's lot is still held
    held.hold.set()
    loops[0].join(timeout=20)
    assert firsts == [20]
