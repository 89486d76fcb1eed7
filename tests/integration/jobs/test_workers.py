"""rq workers in subprocesses on a real Redis: jobs run, fold, retry, fail, survive a kill."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.registry import FailedJobRegistry

from goat_adapters.memory import (
    InMemoryJobQueue,
    InMemoryPaymentGateway,
    InMemoryReceiptStore,
    ManualClock,
    SequentialIds,
    make_fixture,
)
from goat_adapters.memory.world import NOW
from goat_adapters.rq import DEFAULT_QUEUE, SERIALIZER, RqJobQueue, job_from, redis_from_url
from goat_adapters.sql import SqlDatabase
from goat_app.compose import JOB_FUNCTION
from goat_core.jobs import Job, Recommend
from goat_core.model import MatchState, Outcome, Recommendations, Rules
from goat_core.services import BuyBonds, Exchange
from goat_core.wire import (
    TOPIC_HISTORY,
    TOPIC_INFO,
    TOPIC_VALIDATION,
    render_fixtures,
    render_history,
)
from tests.servers.redis import RAN_KEY, STARTS_KEY, WorkerProcess
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

ALICE = "auth0|alice"


def recorded(connection: redis.Redis) -> list[Job]:
    """The jobs ``record_job`` ran, in order."""
    return [job_from(*json.loads(item)) for item in connection.lrange(RAN_KEY, 0, -1)]


def alice_won_with_arsenal(database: SqlDatabase) -> None:
    """Alice won 2 bonds on Arsenal; Arsenal plays away at Everton next week (real time)."""
    exchange = Exchange(
        uow=database.unit_of_work,
        payments=InMemoryPaymentGateway(payer_pays=True),
        jobs=InMemoryJobQueue(),
        clock=ManualClock(NOW),
        ids=SequentialIds(),
        rules=Rules(),
        receipts=InMemoryReceiptStore(),
    )
    upcoming = make_fixture(
        2, home="Everton", away="Arsenal", kickoff=datetime.now(UTC) + timedelta(days=7)
    )
    exchange.receive(TOPIC_INFO, render_fixtures([make_fixture(1), upcoming]))
    exchange.top_up(ALICE, 10_000)
    bought = exchange.buy_bonds(
        BuyBonds(ALICE, 1, Outcome.HOME, 2, True, return_url="http://r.invalid")
    )
    verdict = {"request_id": bought.purchase.request_id, "group_id": "1", "seller": 0}
    exchange.receive(TOPIC_VALIDATION, json.dumps({**verdict, "valid": True}))
    exchange.receive(TOPIC_HISTORY, render_history([MatchState(1, "FT", None, None, 1, 0)]))


def stored(database: SqlDatabase) -> Recommendations | None:
    with database.unit_of_work() as uow:
        return uow.recommendations.get(ALICE)


def test_a_worker_process_computes_and_stores_recommendations_once_however_often_run(
    redis_url: str, fresh_database_url: str, tmp_path: Path
) -> None:
    """`goat worker` runs a Recommend job queued on Redis and stores the ranking; running it
    again stores the same ranking (only its time moves)."""
    database = SqlDatabase(fresh_database_url)
    alice_won_with_arsenal(database)
    queue = RqJobQueue(redis_from_url(redis_url), function=JOB_FUNCTION)
    worker = WorkerProcess.goat(
        redis_url, tmp_path / "worker.log", GOAT_DATABASE_URL=fresh_database_url
    )
    try:
        first_id = queue.enqueue(Recommend(ALICE))
        wait_until(
            lambda: queue.report(first_id).status == "finished",
            timeout=30,
            what=f"the job to finish; worker log:\n{worker.output()}",
        )
        first = stored(database)
        assert first is not None
        assert [item.fixture_id for item in first.items] == [2]

        again_id = queue.enqueue(Recommend(ALICE))
        wait_until(lambda: queue.report(again_id).status == "finished", timeout=30)
        again = stored(database)
        assert again is not None
        assert again_id != first_id
        assert again.items == first.items
        assert again.updated_at is not None
        assert first.updated_at is not None
        assert again.updated_at >= first.updated_at
    finally:
        worker.stop()
        database.dispose()
        queue.close()


def test_equal_jobs_waiting_fold_into_one_and_a_later_one_runs_again(
    redis_url: str, tmp_path: Path
) -> None:
    """A burst of equal jobs queues one; once it started, an equal job is queued anew."""
    connection = redis_from_url(redis_url)
    queue = RqJobQueue(connection, function="tests.servers.redis.record_job")

    burst = {queue.enqueue(Recommend("auth0|alice")) for _ in range(5)}
    other = queue.enqueue(Recommend("auth0|bob"))

    assert len(burst) == 1
    assert other not in burst
    assert Queue(DEFAULT_QUEUE, connection=connection, serializer=SERIALIZER).count == 2
    worker = WorkerProcess.recording(redis_url, tmp_path / "worker.log")
    try:
        wait_until(lambda: len(recorded(connection)) == 2, timeout=30, what="both jobs to run")
        later = queue.enqueue(Recommend("auth0|alice"))
        assert later not in burst
        wait_until(lambda: len(recorded(connection)) == 3, timeout=30, what="the later job")
        assert recorded(connection).count(Recommend("auth0|alice")) == 2
    finally:
        worker.stop()
        queue.close()


def test_a_batch_folds_into_jobs_still_waiting(redis_url: str) -> None:
    """enqueue_many answers the id of an equal job still waiting and queues only the new."""
    connection = redis_from_url(redis_url)
    queue = RqJobQueue(connection, function="tests.servers.redis.record_job")
    try:
        waiting = queue.enqueue(Recommend("auth0|alice"))

        ids = queue.enqueue_many([Recommend("auth0|bob"), Recommend("auth0|alice")])

        assert ids[1] == waiting
        assert ids[0] != waiting
        assert Queue(DEFAULT_QUEUE, connection=connection, serializer=SERIALIZER).count == 2
    finally:
        connection.flushdb()
        queue.close()


def test_a_failing_job_retries_then_lands_in_the_failed_registry(
    redis_url: str, empty_database_url: str, tmp_path: Path
) -> None:
    """A job that keeps failing is retried with backoff, then failed, saying why in one line."""
    connection = redis_from_url(redis_url)
    queue = RqJobQueue(connection, function=JOB_FUNCTION, retries=(1, 1))
    # a database without tables: every recommendation fails
    worker = WorkerProcess.goat(
        redis_url, tmp_path / "worker.log", GOAT_DATABASE_URL=empty_database_url
    )
    try:
        job_id = queue.enqueue(Recommend("auth0|alice"))

        wait_until(
            lambda: queue.report(job_id).status == "failed",
            timeout=45,
            what=f"the job to fail; worker log:\n{worker.output()}",
        )
        report = queue.report(job_id)
        registry = FailedJobRegistry(DEFAULT_QUEUE, connection=connection, serializer=SERIALIZER)
        assert job_id in registry.get_job_ids()
        assert report.error
        assert "Traceback" not in report.error
        assert "\n" not in report.error
        assert report.error.startswith("Unavailable: the database schema"), report.error
        assert worker.output().count("Traceback") >= 3  # the first run and two retries
    finally:
        worker.stop()
        queue.close()


def test_a_job_whose_worker_was_killed_is_completed_by_another(
    redis_url: str, tmp_path: Path
) -> None:
    """A worker SIGKILLed mid-job leaves the job to another worker, which runs it once."""
    connection = redis_from_url(redis_url)
    queue = RqJobQueue(
        connection, function="tests.servers.redis.stall_first_job", job_timeout=3, retries=(0,)
    )
    first = WorkerProcess.recording(redis_url, tmp_path / "first.log", grace=1)
    job_id = queue.enqueue(Recommend("auth0|alice"))
    wait_until(lambda: connection.get(STARTS_KEY) == b"1", timeout=30, what="the job to start")
    first.kill()

    second = WorkerProcess.recording(redis_url, tmp_path / "second.log", grace=1)
    try:
        wait_until(
            lambda: recorded(connection) == [Recommend("auth0|alice")],
            timeout=30,
            what=f"the job to run again; second worker:\n{second.output()}",
        )
        wait_until(lambda: queue.report(job_id).status == "finished", what="the job's end")
        assert connection.get(STARTS_KEY) == b"2"
    finally:
        second.stop()
        queue.close()


def test_two_workers_never_run_one_job_twice(redis_url: str, tmp_path: Path) -> None:
    """Jobs shared by two workers are each run exactly once."""
    connection = redis_from_url(redis_url)
    queue = RqJobQueue(connection, function="tests.servers.redis.record_job")
    jobs = [Recommend(f"auth0|user-{n}") for n in range(40)]
    for job in jobs:
        queue.enqueue(job)
    workers = [WorkerProcess.recording(redis_url, tmp_path / f"w{n}.log") for n in range(2)]
    try:
        wait_until(lambda: len(recorded(connection)) >= len(jobs), timeout=60, what="all jobs")
        assert sorted(map(repr, recorded(connection))) == sorted(map(repr, jobs))
    finally:
        for worker in workers:
            worker.stop()
        queue.close()
