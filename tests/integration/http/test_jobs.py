"""The in-process job queue behind POST /recommendations and the purchase follow-ups."""

from __future__ import annotations

import threading

import pytest

from goat_adapters.local import InProcessJobQueue
from goat_core.errors import Unavailable
from goat_core.jobs import Job, MakeReceipt, Recommend


def test_jobs_run_in_order_and_a_failure_does_not_stop_the_worker() -> None:
    """Each queued job is run; one that raises (retries spent) is failed and the next runs."""
    ran: list[Job] = []

    def work(job: Job) -> None:
        if job == MakeReceipt("bad"):
            raise RuntimeError("boom")
        ran.append(job)

    queue = InProcessJobQueue(work, retry_delays=()).start()
    first = queue.enqueue(MakeReceipt("bad"))
    second = queue.enqueue(Recommend("good"))
    queue.join()
    queue.stop()
    assert ran == [Recommend("good")]
    assert (queue.done[first], queue.done[second]) == ("failed", "finished")


def test_an_equal_waiting_job_is_not_queued_twice() -> None:
    """While a job waits, enqueuing an equal job answers the same id and runs it once."""
    gate = threading.Event()
    ran: list[Job] = []

    def work(job: Job) -> None:
        if job == MakeReceipt("block"):
            gate.wait(5)
        else:
            ran.append(job)

    queue = InProcessJobQueue(work).start()
    queue.enqueue(MakeReceipt("block"))  # keeps the worker busy so the next jobs wait
    one = queue.enqueue(Recommend("u1"))
    again = queue.enqueue(Recommend("u1"))
    other = queue.enqueue(Recommend("u2"))
    gate.set()
    queue.join()
    queue.stop()
    assert one == again != other
    assert ran == [Recommend("u1"), Recommend("u2")]


def test_a_stopped_queue_is_unavailable() -> None:
    """Enqueuing without a running worker raises Unavailable (the heartbeat says false)."""
    queue = InProcessJobQueue(lambda job: None)
    assert queue.available is False
    with pytest.raises(Unavailable):
        queue.enqueue(Recommend("u1"))


def test_a_delayed_job_folds_the_burst_that_follows_it() -> None:
    """With a delay, equal jobs queued during it run once."""
    ran: list[Job] = []
    queue = InProcessJobQueue(ran.append, delay=0.2).start()
    ids = {queue.enqueue(Recommend("u1")) for _ in range(5)}
    queue.join()
    queue.stop()
    assert len(ids) == 1
    assert ran == [Recommend("u1")]
