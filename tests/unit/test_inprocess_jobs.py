"""The in-process job worker retries a failed job with backoff, as rq does for goat worker."""

from __future__ import annotations

import threading

from goat_adapters.local import InProcessJobQueue
from goat_core.errors import Unavailable
from goat_core.jobs import Job, Recommend
from tests.waiting import wait_until


def test_a_job_that_fails_is_tried_again_until_it_succeeds() -> None:
    """A job failing twice (a mail server down, say) runs a third time and finishes."""
    tries: list[Job] = []

    def run(job: Job) -> None:
        tries.append(job)
        if len(tries) < 3:
            raise Unavailable("the mail server is down")

    queue = InProcessJobQueue(run, retry_delays=(0.01, 0.01, 0.01)).start()
    try:
        job_id = queue.enqueue(Recommend("auth0|alice"))
        wait_until(lambda: queue.done.get(job_id) == "finished", what="the third try")
    finally:
        queue.stop()

    assert tries == [Recommend("auth0|alice")] * 3


def test_a_job_that_always_fails_is_given_up_after_its_retries() -> None:
    """After the last retry the job is marked failed and is not run again."""
    tries: list[Job] = []

    def run(job: Job) -> None:
        tries.append(job)
        raise Unavailable("still down")

    queue = InProcessJobQueue(run, retry_delays=(0.01, 0.01)).start()
    try:
        job_id = queue.enqueue(Recommend("auth0|alice"))
        wait_until(lambda: queue.done.get(job_id) == "failed", what="the job to be given up")
    finally:
        queue.stop()

    assert len(tries) == 3


def test_a_retry_waiting_does_not_hold_up_other_jobs() -> None:
    """While a failed job waits for its backoff, the jobs queued after it run."""
    ran: list[Job] = []
    first_failed = threading.Event()

    def run(job: Job) -> None:
        if job == Recommend("slow") and not first_failed.is_set():
            first_failed.set()
            raise Unavailable("down for now")
        ran.append(job)

    queue = InProcessJobQueue(run, retry_delays=(30.0,)).start()
    try:
        queue.enqueue(Recommend("slow"))
        assert first_failed.wait(10)
        queue.enqueue(Recommend("next"))
        wait_until(lambda: Recommend("next") in ran, what="the next job")
    finally:
        queue.stop()

    assert Recommend("slow") not in ran
