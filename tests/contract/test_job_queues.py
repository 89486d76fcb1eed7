"""``ports.JobQueue``: the in-memory queue, the in-process worker and rq honour one contract.

The rq queue runs on a real redis-server with a real worker in a subprocess, whose job
function notes every job it ran in Redis (``tests.servers.redis.record_job``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from goat_adapters.local import InProcessJobQueue
from goat_adapters.memory import InMemoryJobQueue
from goat_core.errors import Unavailable
from goat_core.jobs import Job, MakeReceipt, Recommend
from goat_core.ports import JobQueue
from tests.servers.redis import RAN_KEY, RedisServer, WorkerProcess
from tests.waiting import wait_until


@attrs.define
class Queue:
    """A queue under test, what its worker ran, and how to make it unreachable."""

    queue: JobQueue
    ran: Callable[[], list[Job]]
    stop: Callable[[], None]


@pytest.fixture(params=["memory", "in-process", pytest.param("rq", marks=pytest.mark.integration)])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Queue]:
    """Each queue in turn, with a worker that records every job it runs."""
    ran: list[Job] = []
    lock = threading.Lock()

    def run(job: Job) -> None:
        with lock:
            ran.append(job)

    if request.param == "memory":
        memory = InMemoryJobQueue(run)
        yield Queue(memory, lambda: list(ran), lambda: setattr(memory, "down", True))
    elif request.param == "in-process":
        worker = InProcessJobQueue(run).start()
        yield Queue(worker, lambda: list(ran), worker.stop)
        worker.stop()
    else:
        yield from _rq_subject(request, tmp_path)


def _rq_subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Queue]:
    from goat_adapters.rq import RqJobQueue, job_from, redis_from_url

    url: str = request.getfixturevalue("redis_url")
    server: RedisServer = request.getfixturevalue("redis_server")
    connection = redis_from_url(url)
    queue = RqJobQueue(connection, function="tests.servers.redis.record_job")
    worker = WorkerProcess.recording(url, tmp_path / "worker.log")

    def recorded() -> list[Job]:
        noted = connection.lrange(RAN_KEY, 0, -1)
        return [job_from(*json.loads(item)) for item in noted]

    stopped = False

    def stop() -> None:
        nonlocal stopped
        stopped = True
        server.stop()

    try:
        yield Queue(queue, recorded, stop)
    finally:
        worker.stop()
        if stopped:
            server.start()
        queue.close()


def test_a_queued_job_is_run_with_its_spec(subject: Queue) -> None:
    """What is enqueued reaches the worker as the same typed job, and gets an id."""
    job_id = subject.queue.enqueue(Recommend("auth0|alice"))

    assert job_id
    wait_until(lambda: subject.ran() == [Recommend("auth0|alice")], what="the job to run")


def test_jobs_of_each_kind_reach_the_worker(subject: Queue) -> None:
    """Different jobs are all run, each once."""
    subject.queue.enqueue(Recommend("auth0|alice"))
    subject.queue.enqueue(MakeReceipt("r-1"))

    wait_until(lambda: len(subject.ran()) == 2, what="both jobs to run")
    assert sorted(map(repr, subject.ran())) == sorted(
        map(repr, [Recommend("auth0|alice"), MakeReceipt("r-1")])
    )


def test_an_unreachable_queue_raises_unavailable(subject: Queue) -> None:
    """A queue that cannot take jobs says so with Unavailable (the core reports it)."""
    subject.stop()

    with pytest.raises(Unavailable):
        subject.queue.enqueue(Recommend("auth0|alice"))


def test_a_batch_of_jobs_is_run_each_once_with_an_id_each(subject: Queue) -> None:
    """enqueue_many answers one id per job, in order, and every job of the batch runs once."""
    batch: list[Job] = [Recommend("auth0|alice"), MakeReceipt("r-1"), Recommend("auth0|bob")]

    ids = subject.queue.enqueue_many(batch)

    assert len(ids) == 3
    assert all(ids)
    wait_until(lambda: len(subject.ran()) == 3, what="the batch to run")
    assert sorted(map(repr, subject.ran())) == sorted(map(repr, batch))


def test_an_unreachable_queue_refuses_a_batch(subject: Queue) -> None:
    """A batch handed to a queue that cannot be reached raises Unavailable."""
    subject.stop()

    with pytest.raises(Unavailable):
        subject.queue.enqueue_many([Recommend("auth0|alice"), MakeReceipt("r-1")])
