"""Group commit: what several threads ask for at the same moment, done in one transaction.

A purchase of our users ends on its fixture's row, the hottest lock of the system: with
one transaction per purchase every buyer of a fixture would queue behind one commit (one
disk flush) each. ``GroupCommit`` lets the first caller that finds the writer free
become the writer: it takes every item waiting (up to ``max_lot``), applies them as one
lot, wakes each caller with its own outcome, and hands the writer's role to the caller
waiting longest, whose lot is everything that arrived meanwhile. Each thread is woken
once. One caller at a time makes lots of one, as if nothing grouped.

A lot that fails as a whole is applied again one item at a time, so that each caller
gets exactly the outcome its item would have had alone: an error is shared only when
``apply_lot`` itself gives it to several items.

``AsyncGroupCommit`` does the same for coroutines: they wait on the event loop, and a
thread of the loop's executor writes their lots, so that a caller holds no thread.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import attrs

from goat_core.errors import Unavailable

__all__ = [
    "AsyncGroupCommit",
    "GroupCommit",
]


log = logging.getLogger("goat.core")

Item = TypeVar("Item")
Answer = TypeVar("Answer")


def _held() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@attrs.define(eq=False)
class _Ticket(Generic[Item, Answer]):
    item: Item
    done: bool = False
    answer: Answer | None = None
    error: BaseException | None = None
    # released once: when the ticket is done, or when its thread is to write the next
    # lot (a bare lock: an Event costs a Condition, and its waiter lock on every wait)
    _asleep: threading.Lock = attrs.field(factory=_held)

    def wake(self) -> None:
        self._asleep.release()

    def sleep(self) -> None:
        self._asleep.acquire()

    def answer_or_raise(self) -> Answer:
        if self.error is not None:
            raise self.error
        return self.answer  # type: ignore[return-value]  # set whenever error is not


class GroupCommit(Generic[Item, Answer]):
    """Apply items submitted by concurrent threads in lots (see the module's docstring).

    ``apply_lot(items)`` applies a lot in one transaction and returns one answer per
    item, in order: its value, or the exception that kept that item out while the others
    went in. It raises if it applied nothing. ``submit(item)`` returns the item's answer
    or raises its exception.
    """

    def __init__(
        self,
        apply_lot: Callable[[Sequence[Item]], Sequence[Answer | Exception]],
        max_lot: int = 100,
    ) -> None:
        if max_lot < 1:
            raise ValueError("max_lot must be at least 1")
        self._apply_lot = apply_lot
        self._max_lot = max_lot
        self._waiting: list[_Ticket[Item, Answer]] = []
        self._writing = False
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        """How many submitted items wait for a writer (not counting the lot being written)."""
        with self._lock:
            return len(self._waiting)

    def submit(self, item: Item) -> Answer:
        """Apply ``item``, in a lot with whatever other threads submit meanwhile."""
        ticket: _Ticket[Item, Answer] = _Ticket(item)
        with self._lock:
            if self._writing:
                self._waiting.append(ticket)
            else:
                self._writing = True
                ticket.wake()
        ticket.sleep()
        if not ticket.done:  # this thread writes the next lot: its item and those waiting
            self._write_next(ticket)
        return ticket.answer_or_raise()

    def _write_next(self, ticket: _Ticket[Item, Answer]) -> None:
        with self._lock:
            lot = [ticket, *self._waiting[: self._max_lot - 1]]
            del self._waiting[: self._max_lot - 1]
        try:
            _write(self._apply_lot, lot)
        finally:
            with self._lock:
                if self._waiting:  # the writer's role goes to the one waiting longest
                    self._waiting.pop(0).wake()
                else:
                    self._writing = False
            for done in lot[1:]:
                done.wake()


class AsyncGroupCommit(Generic[Item, Answer]):
    """``GroupCommit`` for coroutines on an event loop: ``submit`` awaits, holding no thread.

    The lots are written in a thread of the default executor of the loop that found the
    writer free, one lot at a time: the writer takes everything waiting (up to
    ``max_lot``), applies it as ``GroupCommit`` does, wakes the lot's coroutines with one
    call into their loop (each their own, when several loops share the instance), and goes
    on while items wait. A caller thus costs no thread hop of its own; the lot costs one.
    The writer's log lines belong to no request, and a loop that shuts down waits for the
    writer it started, until nothing waits.

    An item whose coroutine is cancelled while it waits is still applied: it was
    submitted, as a thread's would be. A writer that cannot start, or whose job fails or
    is cancelled before it begins, fails the items waiting (``Unavailable`` for a
    cancelled job) and frees its role.
    """

    def __init__(
        self,
        apply_lot: Callable[[Sequence[Item]], Sequence[Answer | Exception]],
        max_lot: int = 100,
    ) -> None:
        if max_lot < 1:
            raise ValueError("max_lot must be at least 1")
        self._apply_lot = apply_lot
        self._max_lot = max_lot
        self._waiting: list[tuple[_Ticket[Item, Answer], asyncio.Future[None]]] = []
        self._lock = threading.Lock()  # the writer takes lots from another thread
        # The writer's run from its job's scheduling to its end (None: no writer), and
        # whether the job began, both decided under the lock: a run is given up from
        # outside only if its job never began, and a run given up never begins.
        self._run: object | None = None
        self._began = False

    @property
    def waiting(self) -> int:
        """How many submitted items wait for the writer (not counting the lot being written)."""
        with self._lock:
            return len(self._waiting)

    async def submit(self, item: Item) -> Answer:
        """Apply ``item``, in a lot with whatever other coroutines submit meanwhile."""
        loop = asyncio.get_running_loop()
        ticket: _Ticket[Item, Answer] = _Ticket(item)
        done = loop.create_future()
        run = None
        with self._lock:
            self._waiting.append((ticket, done))
            if self._run is None:
                run = self._run = object()
                self._began = False
        if run is not None:
            try:
                writer = loop.run_in_executor(None, self._write_all, run)
            except BaseException as error:  # no writer (the executor is shut down)
                self._give_up(run, error, unbegun=True)
                raise
            writer.add_done_callback(functools.partial(self._ended, run))
        await done
        return ticket.answer_or_raise()

    def _write_all(self, run: object) -> None:
        """Write lots until none waits (in the executor's thread)."""
        with self._lock:
            if self._run is not run:  # given up before it began
                return
            self._began = True
        while True:
            with self._lock:
                lot = self._waiting[: self._max_lot]
                del self._waiting[: self._max_lot]
                if not lot:
                    self._run = None
                    return
            try:
                _write(self._apply_lot, [ticket for ticket, _ in lot])
            except BaseException as error:  # an interrupt: those still waiting get it too
                _wake(lot)
                self._give_up(run, error)
                raise
            _wake(lot)

    def _ended(self, run: object, writer: asyncio.Future[None]) -> None:
        """The writer's job ended. One that failed (an interrupt is logged) or was cancelled
        before it began fails the items waiting; one that began freed its role itself."""
        error: BaseException | None
        if writer.cancelled():
            error = Unavailable("the lot writer was cancelled before it began")
        else:
            error = writer.exception()
            if error is None:
                return
            log.error("the lot writer stopped", exc_info=error)
        self._give_up(run, error, unbegun=True)

    def _give_up(self, run: object, error: BaseException, *, unbegun: bool = False) -> None:
        """Every item still waiting fails with ``error`` and the writer's role is free
        again, unless ``run`` ended meanwhile (or, with ``unbegun``, began)."""
        with self._lock:
            if self._run is not run or (unbegun and self._began):
                return
            waiting, self._waiting, self._run = self._waiting, [], None
        for ticket, _ in waiting:
            ticket.error, ticket.done = error, True
        _wake(waiting)


def _wake(lot: Sequence[tuple[_Ticket[Any, Any], asyncio.Future[None]]]) -> None:
    """Wake the coroutines of a lot, each through its own loop: one call into each loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for _, done in lot:
        by_loop.setdefault(done.get_loop(), []).append(done)
    for loop, waiting in by_loop.items():
        try:
            loop.call_soon_threadsafe(_set_all, waiting)
        except RuntimeError:  # the loop is closed: no one waits there any more
            log.warning("%d items were done after their event loop closed", len(waiting))


def _set_all(waiting: list[asyncio.Future[None]]) -> None:
    for done in waiting:
        if not done.done():  # a cancelled coroutine's is done already
            done.set_result(None)


def _write(
    apply_lot: Callable[[Sequence[Item]], Sequence[Answer | Exception]],
    lot: list[_Ticket[Item, Answer]],
) -> None:
    """Apply a lot; every ticket ends done, with its answer or its error."""
    try:
        answers = list(apply_lot([ticket.item for ticket in lot]))
    except Exception as error:
        if len(lot) == 1:
            lot[0].error, lot[0].done = error, True
            return
        try:
            for ticket in lot:  # each alone: only the guilty item fails
                _write(apply_lot, [ticket])
        except BaseException as interrupt:  # the items not reached get it, and are done
            for ticket in lot:
                if not ticket.done:
                    ticket.error, ticket.done = interrupt, True
            raise
        return
    except BaseException as error:  # an interrupt: no item is known to be applied
        for ticket in lot:
            ticket.error, ticket.done = error, True
        raise
    if len(answers) != len(lot):  # a bug in apply_lot: let no caller wait forever
        answers = [RuntimeError("the lot gave no outcome for this item")] * len(lot)
    for ticket, answer in zip(lot, answers, strict=True):
        if isinstance(answer, Exception):
            ticket.error = answer
        else:
            ticket.answer = answer
        ticket.done = True
