"""The job outbox on PostgreSQL and a real Redis: an outage delays jobs and loses none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from goat_adapters.memory import (
    InMemoryPaymentGateway,
    InMemoryReceiptStore,
    ManualClock,
    SequentialIds,
    make_fixture,
)
from goat_adapters.memory.world import NOW
from goat_adapters.rq import RqJobQueue, job_from, redis_from_url
from goat_adapters.sql import SqlDatabase
from goat_app.relay import OutboxRelay
from goat_core.jobs import Job, MakeReceipt, Recommend
from goat_core.model import Outcome, Rules
from goat_core.services import BuyBonds, Exchange
from goat_core.wire import TOPIC_INFO, TOPIC_VALIDATION, render_fixtures
from tests.servers.redis import RAN_KEY, RedisServer, WorkerProcess, redis_server_path
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

USERS = [f"auth0|buyer-{i}" for i in range(5)]


def recorded(connection: redis.Redis) -> list[Job]:
    """The jobs ``record_job`` ran, in order."""
    return [job_from(*json.loads(item)) for item in connection.lrange(RAN_KEY, 0, -1)]


def test_redis_stopped_during_purchases_delays_every_job_and_loses_none(
    fresh_database_url: str, tmp_path: Path
) -> None:
    """Purchases and a validation succeed with Redis down; once it is back, every job they
    called for reaches a real worker, and a burst by one buyer runs one recompute."""
    executable = redis_server_path()
    if executable is None:
        pytest.skip("no redis-server: install Debian's redis-server (.ci/run does)")
    server = RedisServer(executable, tmp_path / "redis").start()
    database = SqlDatabase(fresh_database_url)
    queue = RqJobQueue(redis_from_url(server.url), function="tests.servers.redis.record_job")
    exchange = Exchange(
        uow=database.unit_of_work,
        payments=InMemoryPaymentGateway(payer_pays=True),
        jobs=queue,
        clock=ManualClock(NOW),
        ids=SequentialIds(),
        rules=Rules(),
        receipts=InMemoryReceiptStore(),
    )
    relay = OutboxRelay(exchange.relay_jobs, interval=0.1, name="jobs")
    exchange.on_jobs_queued(relay.wake)
    worker: WorkerProcess | None = None
    try:
        exchange.receive(TOPIC_INFO, render_fixtures([make_fixture(1)]))
        for user in USERS:
            exchange.top_up(user, 10_000)
        relay.start()
        server.stop()  # Redis goes away

        bought = [
            exchange.buy_bonds(BuyBonds(user, 1, Outcome.HOME, 1, True, "http://r.invalid"))
            for user in [*USERS, USERS[0], USERS[0]]
        ]
        first = bought[0].purchase.request_id
        verdict = {"request_id": first, "group_id": "1", "seller": 0, "valid": True}
        exchange.receive(TOPIC_VALIDATION, json.dumps(verdict))
        assert exchange.jobs_backlog() >= len(USERS) + 2  # nothing reached Redis

        server.start()  # back, empty (it saves nothing)
        worker = WorkerProcess.recording(server.url, tmp_path / "worker.log")
        connection = redis_from_url(server.url)
        wanted = {Recommend(user) for user in USERS} | {MakeReceipt(first)}
        wait_until(
            lambda: wanted <= set(recorded(connection)),
            timeout=30,
            what=f"every job to run; worker log:\n{worker.output() if worker else ''}",
        )
        wait_until(lambda: exchange.jobs_backlog() == 0, timeout=10, what="an empty backlog")
        ran = [job for job in recorded(connection) if isinstance(job, Recommend)]
        assert sorted(ran, key=str) == sorted({Recommend(user) for user in USERS}, key=str)
    finally:
        relay.stop()
        if worker is not None:
            worker.stop()
        server.stop()
        queue.close()
        database.dispose()
