"""Group commit: concurrent callers share a lot, and each gets its own outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import pytest

from goat_core.grouping import GroupCommit
from tests.waiting import wait_until


class Recorder:
    """An ``apply_lot`` that records its lots; ``hold`` keeps the first lot open."""

    def __init__(self, fail: Callable[[Sequence[int]], bool] = lambda lot: False) -> None:
        self.lots: list[list[int]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()
        self.fail = fail

    def __call__(self, items: Sequence[int]) -> list[int | Exception]:
        self.entered.set()
        self.hold.wait(timeout=10)
        if self.fail(items):
            raise ValueError(f"lot {list(items)} refused")
        self.lots.append(list(items))
        return [ValueError(f"{i} is odd") if i % 2 else i * 10 for i in items]


def submit_in_threads(
    group: GroupCommit[int, int], items: Sequence[int]
) -> tuple[list[threading.Thread], dict[int, object]]:
    outcomes: dict[int, object] = {}

    def run(item: int) -> None:
        try:
            outcomes[item] = group.submit(item)
        except Exception as error:
            outcomes[item] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in items]
    for thread in threads:
        thread.start()
    return threads, outcomes


def behind_a_held_lot(
    recorder: Recorder, group: GroupCommit[int, int], items: Sequence[int]
) -> tuple[dict[int, object], dict[int, object]]:
    """Submit 2 as a lot that ``recorder`` holds, queue ``items`` behind it, then let all
    finish; the outcomes of the first lot and of the queued items."""
    recorder.hold.clear()
    first, outcomes = submit_in_threads(group, [2])
    assert recorder.entered.wait(timeout=10)
    others, more = submit_in_threads(group, items)
    wait_until(lambda: group.waiting == len(items))
    recorder.hold.set()
    for thread in first + others:
        thread.join(timeout=10)
    return outcomes, more


def test_a_lone_caller_writes_a_lot_of_one() -> None:
    """One caller at a time: each item is its own lot, and submit() returns its result."""
    recorder = Recorder()
    group = GroupCommit(recorder)
    assert group.submit(2) == 20
    assert group.submit(4) == 40
    assert recorder.lots == [[2], [4]]


def test_callers_arriving_while_a_lot_is_written_form_the_next_lot() -> None:
    """Items submitted while the writer is busy are applied together, in one lot."""
    recorder = Recorder()
    outcomes, more = behind_a_held_lot(recorder, GroupCommit(recorder), [4, 6, 8])
    assert recorder.lots[0] == [2]
    assert sorted(recorder.lots[1]) == [4, 6, 8]
    assert {**outcomes, **more} == {2: 20, 4: 40, 6: 60, 8: 80}


def test_an_item_refused_within_a_lot_fails_alone() -> None:
    """An outcome that is an exception is raised to its own caller only."""
    recorder = Recorder()
    _, more = behind_a_held_lot(recorder, GroupCommit(recorder), [3, 4])
    assert sorted(recorder.lots[1]) == [3, 4]
    assert more[4] == 40
    assert isinstance(more[3], ValueError)
    assert str(more[3]) == "3 is odd"


def test_a_lot_that_fails_whole_is_retried_item_by_item() -> None:
    """When applying a lot raises, each item is applied alone: only the guilty one fails."""
    recorder = Recorder(fail=lambda lot: 666 in lot)
    _, more = behind_a_held_lot(recorder, GroupCommit(recorder), [4, 666, 6])
    assert sorted(sorted(lot) for lot in recorder.lots) == [[2], [4], [6]]
    assert (more[4], more[6]) == (40, 60)
    assert isinstance(more[666], ValueError)
    assert "refused" in str(more[666])


def test_a_lot_holds_at_most_max_lot_items() -> None:
    """More waiting than max_lot: they go in several lots, none larger than max_lot."""
    recorder = Recorder()
    _, more = behind_a_held_lot(recorder, GroupCommit(recorder, max_lot=2), [4, 6, 8, 10, 12])
    assert [len(lot) for lot in recorder.lots] == [1, 2, 2, 1]
    assert more == {4: 40, 6: 60, 8: 80, 10: 100, 12: 120}


def test_a_lot_answered_with_no_list_is_retried_item_by_item_by_one_writer() -> None:
    """``apply_lot`` broke its promise (no answers for a lot): the lot is retried one item
    at a time as any failed lot, by its writer alone; no woken caller takes itself for
    the next writer."""
    recorder = Recorder()
    writing, most = [0], [0]

    def apply(items: Sequence[int]) -> list[int | Exception]:
        writing[0] += 1
        most[0] = max(most[0], writing[0])
        try:
            answers = recorder(items)
            time.sleep(0.02)  # long enough for a second writer to overlap
            return None if len(items) > 1 else answers  # type: ignore[return-value]  # the bug
        finally:
            writing[0] -= 1

    _, more = behind_a_held_lot(recorder, GroupCommit(apply), [4, 6, 8])
    assert more == {4: 40, 6: 60, 8: 80}
    assert most[0] == 1


def test_max_lot_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_lot"):
        GroupCommit(Recorder(), max_lot=0)


def test_an_interrupt_while_retrying_item_by_item_leaves_no_caller_waiting() -> None:
    """A BaseException during the one-by-one retry ends every item of the lot, and the
    next lot is written by one writer at a time."""
    writing, most = [0], [0]

    def apply_lot(items: Sequence[int]) -> list[int | Exception]:
        writing[0] += 1
        most[0] = max(most[0], writing[0])
        try:
            if 0 in items:  # the first, held lot
                hold.wait(timeout=10)
            elif len(items) > 1:
                raise ValueError("the lot fails as a whole")
            elif items == [13]:
                raise KeyboardInterrupt
            time.sleep(0.01)
            return [i * 10 for i in items]
        finally:
            writing[0] -= 1

    hold = threading.Event()
    entered = threading.Event()

    def enter_then_apply(items: Sequence[int]) -> list[int | Exception]:
        entered.set()
        return apply_lot(items)

    group: GroupCommit[int, int] = GroupCommit(enter_then_apply)
    outcomes: dict[int, object] = {}

    def run(item: int) -> None:
        try:
            outcomes[item] = group.submit(item)
        except BaseException as error:
            outcomes[item] = error

    threads = [threading.Thread(target=run, args=(0,))]
    threads[0].start()
    assert entered.wait(timeout=10)
    for queued, item in enumerate((2, 13, 4), start=1):
        threads.append(threading.Thread(target=run, args=(item,)))
        threads[-1].start()
        wait_until(lambda: group.waiting == queued)  # noqa: B023  # used before the next turn
    hold.set()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
    assert outcomes[0] == 0
    # 2 wrote the lot [2, 13, 4]: its item went in, but the interrupt is raised in its thread
    assert isinstance(outcomes[2], KeyboardInterrupt)
    assert isinstance(outcomes[13], KeyboardInterrupt)
    assert isinstance(outcomes[4], KeyboardInterrupt)  # not reached: ended, not re-written
    assert most[0] == 1
    assert group.submit(6) == 60  # the writer's role is free again
