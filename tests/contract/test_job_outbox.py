"""``ports.JobOutbox`` (``uow.jobs``): memory, SQLite and PostgreSQL honour one contract."""

from __future__ import annotations

import pytest

from goat_adapters.memory import InMemoryJobQueue
from goat_core.errors import Unavailable
from goat_core.jobs import MakeReceipt, Recommend
from goat_core.ports import PendingJob
from goat_core.services.outbox import relay_jobs
from tests.contract.conftest import Backend

__all__: list[str] = []


def _jobs(pending: list[PendingJob]) -> list[object]:
    return [entry.job for entry in pending]


def test_added_jobs_come_back_as_themselves_oldest_first(backend: Backend) -> None:
    """pending() gives every committed job back equal to what was added, oldest first."""
    with backend.uow() as uow:
        uow.jobs.add(Recommend("auth0|a"), MakeReceipt("r-1"))
        uow.jobs.add(Recommend("auth0|a"))
        uow.commit()
    with backend.uow() as uow:
        pending = uow.jobs.pending(10)
        assert _jobs(pending) == [Recommend("auth0|a"), MakeReceipt("r-1"), Recommend("auth0|a")]
        assert len({entry.id for entry in pending}) == 3
        assert uow.jobs.backlog() == 3
        assert _jobs(uow.jobs.pending(2)) == [Recommend("auth0|a"), MakeReceipt("r-1")]


def test_mark_sent_removes_jobs_for_good(backend: Backend) -> None:
    """mark_sent() takes jobs out of pending() and the backlog, across units of work."""
    with backend.uow() as uow:
        uow.jobs.add(*(Recommend(f"u{i}") for i in range(4)))
        uow.commit()
    with backend.uow() as uow:
        first = uow.jobs.pending(2)
        uow.jobs.mark_sent([entry.id for entry in first])
        uow.jobs.mark_sent([])
        uow.commit()
    with backend.uow() as uow:
        assert uow.jobs.backlog() == 2
        assert _jobs(uow.jobs.pending(10)) == [Recommend("u2"), Recommend("u3")]


def test_jobs_of_a_rolled_back_unit_of_work_are_never_handed_out(backend: Backend) -> None:
    """A job added in a unit of work left without commit is forgotten with it."""
    with backend.uow() as uow:
        uow.jobs.add(Recommend("gone"))
    with backend.uow() as uow:
        uow.jobs.add(Recommend("kept"))
        uow.commit()
    with backend.uow() as uow:
        assert _jobs(uow.jobs.pending(10)) == [Recommend("kept")]


def test_the_relay_folds_equal_jobs_and_keeps_what_an_outage_left(backend: Backend) -> None:
    """relay_jobs queues each distinct job once; with the queue down, nothing pending is lost."""
    queue = InMemoryJobQueue()
    with backend.uow() as uow:
        uow.jobs.add(Recommend("a"), Recommend("a"), MakeReceipt("r"), Recommend("a"))
        uow.commit()
    queue.down = True
    with pytest.raises(Unavailable):
        relay_jobs(backend.uow, queue)
    with backend.uow() as uow:
        assert uow.jobs.backlog() == 4
    queue.down = False

    assert relay_jobs(backend.uow, queue) == 4
    assert queue.enqueued == [Recommend("a"), MakeReceipt("r")]
    assert relay_jobs(backend.uow, queue) == 0


def test_a_queue_failing_midway_leaves_the_whole_batch_pending(backend: Backend) -> None:
    """A batch the queue failed to take stays pending whole and is handed over again later."""
    queue = InMemoryJobQueue()

    def fail_on_receipts(job: object) -> None:
        if isinstance(job, MakeReceipt):
            queue.down = True

    queue.run = fail_on_receipts  # the receipt is queued, then the queue goes down
    with backend.uow() as uow:
        uow.jobs.add(Recommend("a"), MakeReceipt("r"), Recommend("b"))
        uow.commit()
    with pytest.raises(Unavailable):
        relay_jobs(backend.uow, queue)
    with backend.uow() as uow:
        assert _jobs(uow.jobs.pending(10)) == [Recommend("a"), MakeReceipt("r"), Recommend("b")]

    queue.down, queue.run = False, None
    assert relay_jobs(backend.uow, queue) == 3
    assert queue.enqueued[-3:] == [Recommend("a"), MakeReceipt("r"), Recommend("b")]
    with backend.uow() as uow:
        assert uow.jobs.backlog() == 0
