"""The in-process job queue behind POST /recommendations and the purchase follow-ups."""

from __future__ import annotations

import threading

import pytest

from goat_app.jobs import InProcessJobQueue
from goat_core.errors import Unavailable


def test_jobs_run_in_order_and_a_failure_does_not_stop_the_worker() -> None:
    """Each queued job runs its handler; one that raises is recorded and the next still runs."""
    ran: list[str] = []

    def work(name: str) -> None:
        if name == "bad":
            raise RuntimeError("boom")
        ran.append(name)

    queue = InProcessJobQueue({"work": work})
    queue.start()
    first = queue.enqueue("work", name="bad")
    second = queue.enqueue("work", name="good")
    queue.join()
    queue.stop()
    assert ran == ["good"]
    assert (queue.done[first], queue.done[second]) == ("failed", "finished")


def test_an_equal_waiting_job_is_not_queued_twice() -> None:
    """While a job waits, enqueuing the same job and arguments answers the same id."""
    gate = threading.Event()
    calls: list[str] = []
    queue = InProcessJobQueue(
        {"block": lambda: gate.wait(5), "recommend": lambda user_id: calls.append(user_id)}
    )
    queue.start()
    queue.enqueue("block")  # keeps the worker busy so the next jobs wait
    one = queue.enqueue("recommend", user_id="u1")
    again = queue.enqueue("recommend", user_id="u1")
    other = queue.enqueue("recommend", user_id="u2")
    gate.set()
    queue.join()
    queue.stop()
    assert one == again != other
    assert calls == ["u1", "u2"]


def test_a_stopped_queue_is_unavailable() -> None:
    """Enqueuing without a running worker raises Unavailable (the heartbeat says false)."""
    queue = InProcessJobQueue()
    assert queue.available is False
    with pytest.raises(Unavailable):
        queue.enqueue("recommend", user_id="u1")


def test_a_delayed_job_folds_the_burst_that_follows_it() -> None:
    """With a delay, equal jobs queued during it run once."""
    calls: list[str] = []
    queue = InProcessJobQueue({"recommend": lambda user_id: calls.append(user_id)}, delay=0.2)
    queue.start()
    ids = {queue.enqueue("recommend", user_id="u1") for _ in range(5)}
    queue.join()
    queue.stop()
    assert len(ids) == 1
    assert calls == ["u1"]
