"""Group commit: what several threads ask for at the same moment, done in one transaction.

A purchase of our users ends on its fixture's row, the hottest lock of the system: with
one transaction per purchase every buyer of a fixture would queue behind one commit (one
disk flush) each. ``GroupCommit`` lets the first caller that finds the writer free
become the writer: it takes every item waiting (up to ``max_lot``), applies them as one
lot, hands each caller its own outcome, and steps down; callers that arrived meanwhile
form the next lot. One caller at a time makes lots of one, as if nothing grouped.

A lot that fails as a whole is applied again one item at a time, so that each caller
gets exactly the outcome its item would have had alone: an error is never shared.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import attrs

Item = TypeVar("Item")
Result = TypeVar("Result")


@attrs.define(eq=False)
class _Ticket(Generic[Item, Result]):
    item: Item
    done: bool = False
    result: Result | None = None
    error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    """Apply items submitted by concurrent threads in lots (see the module's docstring).

    ``apply_lot(items)`` applies a lot in one transaction and returns one outcome per
    item, in order: its result, or the exception that kept that item out while the others
    went in. It raises if it applied nothing. ``submit(item)`` returns the item's result
    or raises its exception.
    """

    def __init__(
        self,
        apply_lot: Callable[[Sequence[Item]], Sequence[Result | Exception]],
        max_lot: int = 100,
    ) -> None:
        if max_lot < 1:
            raise ValueError("max_lot must be at least 1")
        self._apply_lot = apply_lot
        self._max_lot = max_lot
        self._waiting: list[_Ticket[Item, Result]] = []
        self._writing = False
        self._changed = threading.Condition()

    @property
    def waiting(self) -> int:
        """How many submitted items wait for a writer (not counting the lot being written)."""
        with self._changed:
            return len(self._waiting)

    def submit(self, item: Item) -> Result:
        """Apply ``item``, in a lot with whatever other threads submit meanwhile."""
        ticket: _Ticket[Item, Result] = _Ticket(item)
        with self._changed:
            self._waiting.append(ticket)
            while not ticket.done:
                if self._writing:
                    self._changed.wait()
                    continue
                # The writer is free: this thread writes the next lot (its own item is
                # among the first max_lot waiting, or in a later lot it writes as well).
                self._writing = True
                lot = self._waiting[: self._max_lot]
                del self._waiting[: self._max_lot]
                self._changed.release()
                try:
                    self._write(lot)
                finally:
                    self._changed.acquire()
                    self._writing = False
                    self._changed.notify_all()
        if ticket.error is not None:
            raise ticket.error
        return ticket.result  # type: ignore[return-value]  # set whenever error is not

    def _write(self, lot: list[_Ticket[Item, Result]]) -> None:
        """Apply a lot; every ticket ends done, with its result or its error."""
        try:
            outcomes = self._apply_lot([ticket.item for ticket in lot])
        except Exception as error:
            if len(lot) == 1:
                lot[0].error, lot[0].done = error, True
            else:
                for ticket in lot:  # each alone: only the guilty item fails
                    self._write([ticket])
            return
        except BaseException as error:  # an interrupt: no item is known to be applied
            for ticket in lot:
                ticket.error, ticket.done = error, True
            raise
        if len(outcomes) != len(lot):  # a bug in apply_lot: let no caller wait forever
            outcomes = [RuntimeError("the lot gave no outcome for this item")] * len(lot)
        for ticket, outcome in zip(lot, outcomes, strict=True):
            if isinstance(outcome, Exception):
                ticket.error = outcome
            else:
                ticket.result = outcome
            ticket.done = True
