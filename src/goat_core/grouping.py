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
task of that loop writes their lots, awaiting the database as they do.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

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
    """``GroupCommit`` for coroutines: ``submit`` awaits, holding no thread.

    ``apply_lot`` is a coroutine function, awaited on the event loop itself by one writer
    task per loop: the writer takes everything waiting (up to ``max_lot``), applies it as
    ``GroupCommit`` does, answers the lot's coroutines, and goes on while items wait. The
    writer's log lines belong to no request. The writers of two loops (one instance
    shared by two threads' loops) are independent.

    An item whose coroutine is cancelled while it waits is still applied: it was
    submitted, as a thread's would be. A writer that is cancelled (its loop shuts down)
    or interrupted ends: the items of its lot not answered yet, and those waiting, get
    the error (``Unavailable`` for a cancellation), and the next ``submit`` starts a
    writer again. A lot whose writer is cancelled may still have been applied: that is
    what ``Unavailable`` says (only a loop shutting down cancels the writer, and it
    cancels the lot's callers with it).
    """

    def __init__(
        self,
        apply_lot: Callable[[Sequence[Item]], Awaitable[Sequence[Answer | Exception]]],
        max_lot: int = 100,
    ) -> None:
        if max_lot < 1:
            raise ValueError("max_lot must be at least 1")
        self._apply_lot = apply_lot
        self._max_lot = max_lot
        # by loop, while its writer runs: the items waiting (each touched only on its loop)
        self._queues: dict[asyncio.AbstractEventLoop, _Queue[Item, Answer]] = {}

    @property
    def waiting(self) -> int:
        """How many submitted items wait for a writer (not counting the lots being written)."""
        return sum(len(queue.waiting) for queue in list(self._queues.values()))

    async def submit(self, item: Item) -> Answer:
        """Apply ``item``, in a lot with whatever other coroutines submit meanwhile."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Answer] = loop.create_future()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
            # a context of its own: the writer's log lines are no request's
            writer = loop.create_task(self._write_all(loop, queue), context=contextvars.Context())
            writer.add_done_callback(functools.partial(self._ended, loop, queue))
            queue.writer = writer  # held: the loop keeps only a weak reference to a task
        queue.waiting.append((item, done))
        return await done

    async def _write_all(
        self, loop: asyncio.AbstractEventLoop, queue: _Queue[Item, Answer]
    ) -> None:
        """Write lots until none waits; then the loop has no writer until the next item."""
        lot: list[tuple[Item, asyncio.Future[Answer]]] = []
        try:
            while queue.waiting:
                lot = queue.waiting[: self._max_lot]
                del queue.waiting[: self._max_lot]
                await _write_async(self._apply_lot, lot)
        except BaseException as error:  # cancelled or interrupted: no one is left waiting
            _fail([*lot, *queue.waiting], error)
            queue.waiting.clear()
            raise
        finally:
            del self._queues[loop]  # at once: an item submitted after this starts a writer

    def _ended(
        self,
        loop: asyncio.AbstractEventLoop,
        queue: _Queue[Item, Answer],
        writer: asyncio.Task[None],
    ) -> None:
        """A writer that stopped on an error is logged; one cancelled before it began fails
        the items waiting and frees the loop for a new one."""
        if not writer.cancelled() and writer.exception() is not None:
            log.error("the lot writer stopped", exc_info=writer.exception())
        if self._queues.get(loop) is queue:  # never began
            del self._queues[loop]
            _fail(queue.waiting, asyncio.CancelledError())
            queue.waiting.clear()


@attrs.define(eq=False)
class _Queue(Generic[Item, Answer]):
    """One loop's items waiting for its writer."""

    waiting: list[tuple[Item, asyncio.Future[Answer]]] = attrs.Factory(list)
    writer: asyncio.Task[None] | None = None


def _fail(lot: Sequence[tuple[object, asyncio.Future[Answer]]], error: BaseException) -> None:
    """End every item's future with ``error`` (``Unavailable`` for a cancellation)."""
    if isinstance(error, asyncio.CancelledError):
        error = Unavailable("the lot writer was cancelled")
    for _, done in lot:
        _answer(done, error)


async def _write_async(
    apply_lot: Callable[[Sequence[Item]], Awaitable[Sequence[Answer | Exception]]],
    lot: Sequence[tuple[Item, asyncio.Future[Answer]]],
) -> None:
    """Apply a lot (as ``_write`` does); every item's future ends with its outcome."""
    try:
        answers = list(await apply_lot([item for item, _ in lot]))
    except Exception as error:
        if len(lot) == 1:
            _answer(lot[0][1], error)
            return
        for one in lot:  # each alone: only the guilty item fails
            await _write_async(apply_lot, [one])
        return
    if len(answers) != len(lot):  # a bug in apply_lot: let no caller wait forever
        answers = [RuntimeError("the lot gave no outcome for this item")] * len(lot)
    for (_, done), answer in zip(lot, answers, strict=True):
        _answer(done, answer)


def _answer(done: asyncio.Future[Answer], outcome: Answer | BaseException) -> None:
    """End an item's future with its outcome, unless its coroutine was cancelled."""
    if done.done():
        return
    if isinstance(outcome, BaseException):
        done.set_exception(outcome)
    else:
        done.set_result(outcome)


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
