"""Jobs: a recommendation's cost, no-op jobs through Redis, what the job outbox costs a purchase.

    python benchmarks/jobs.py [--jobs 3000] [--seconds 5] [--rounds 3]

Starts its own PostgreSQL (durable: fsync and synchronous_commit on) and redis-server,
then measures:

- ``recommendation``: ``Exchange.recommend`` for a user with 1,000 settled (won)
  purchases over 10,000 upcoming fixtures, every one involving a team the user backed,
  milliseconds per user (median of 15; what was built before is frozen out of the
  garbage collector's sweeps, ``gc.freeze()``, as ``goat worker`` does);
- ``redis``: no-op jobs end to end with 2 rq workers (subprocesses, goat's worker):
  each job is committed to the job outbox by 4 producer threads, handed to Redis by the
  job relay (``OutboxRelay(exchange.relay_jobs)``, woken by each commit) and started by a
  worker, which notes when; jobs per second from the first commit to the last start, and
  the commit → start latency (p50, p99);
- ``outbox_cost``: wallet purchases per second (16 threads, 100 fixtures) with the job
  outbox, and with its insert skipped, alternating, medians of ``--rounds``.

Prints one JSON document, with the load average before and after.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from tests.servers.postgres import PostgresServer, find_binaries
from tests.servers.redis import RedisServer, redis_server_path

from goat_adapters.memory import (
    InMemoryJobQueue,
    InMemoryPaymentGateway,
    ManualClock,
    SequentialIds,
)
from goat_adapters.rq import RqJobQueue, redis_from_url, take
from goat_adapters.sql import SqlDatabase, SqlJobOutbox, upgrade
from goat_app.relay import OutboxRelay
from goat_core.jobs import Job, Recommend
from goat_core.model import (
    Fixture,
    League,
    MatchState,
    Odds,
    Outcome,
    Rules,
    Team,
    ValidationMessage,
)
from goat_core.ports import JobQueue
from goat_core.services import BuyBonds, Exchange

__all__ = ["main", "noop_job"]

NOW = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)
STARTED_KEY = "goat:bench:started"
TEAMS = 200
USER = "auth0|bench"


def noop_job(kind: str, **fields: object) -> None:
    """The benchmark's job (run by the workers): take it as goat's worker does, note when."""
    from rq import get_current_job

    started = time.time()
    take(kind, fields)
    current = get_current_job()
    assert current is not None
    current.connection.rpush(STARTED_KEY, json.dumps([fields.get("user_id"), started]))


def fixture(fixture_id: int, kickoff: datetime) -> Fixture:
    """A fixture between two of ``TEAMS`` teams, by id."""
    home, away = fixture_id % TEAMS, (fixture_id * 7 + 3) % TEAMS
    if away == home:
        away = (home + 1) % TEAMS
    return Fixture(
        id=fixture_id,
        kickoff=kickoff,
        league=League(39, "Premier League", f"Regular Season - {1 + fixture_id % 38}"),
        home=Team(home, f"Team {home}"),
        away=Team(away, f"Team {away}"),
        odds=Odds(Decimal("1.85"), Decimal("3.40"), Decimal("4.10")),
    )


def exchange_on(url: str, jobs: JobQueue, pool_size: int = 8) -> tuple[Exchange, SqlDatabase]:
    database = SqlDatabase(url, pool_size=pool_size, max_overflow=0)
    exchange = Exchange(
        uow=database.unit_of_work,
        payments=InMemoryPaymentGateway(),
        jobs=jobs,
        clock=ManualClock(NOW),
        ids=SequentialIds(),
        rules=Rules(bonds_per_fixture=10**9),
    )
    return exchange, database


def recommendation(server: PostgresServer, runs: int = 15) -> dict[str, Any]:
    """Milliseconds to recommend for a user with 1,000 won purchases, 10,000 upcoming."""
    url = server.create_database()
    upgrade(url)
    exchange, database = exchange_on(url, InMemoryJobQueue())
    past = [fixture(i, NOW + timedelta(hours=1)) for i in range(1, 1001)]
    upcoming = [fixture(i, NOW + timedelta(days=30)) for i in range(1001, 11001)]
    for chunk in range(0, len(upcoming), 1000):
        exchange.ingest_fixtures(upcoming[chunk : chunk + 1000])
    exchange.ingest_fixtures(past)
    exchange.top_up(USER, 10**12)
    for f in past:
        bought = exchange.buy_bonds(BuyBonds(USER, f.id, Outcome.HOME, 1, True))
        exchange.apply_validation(ValidationMessage(bought.purchase.request_id, "1", True))
    exchange.record_results([MatchState(f.id, "FT", None, None, 1, 0) for f in past])
    with database.unit_of_work() as uow:
        won = sum(uow.purchases.won_bonds_by_team(USER).values())  # one bond each
    gc.freeze()  # as ``goat worker`` does once its system is built
    timings = []
    for _ in range(runs + 1):
        began = time.perf_counter()
        result = exchange.recommend(USER)
        timings.append((time.perf_counter() - began) * 1000)
    database.dispose()
    return {
        "won_purchases": won,
        "upcoming_fixtures": len(upcoming),
        "recommended": len(result.items),
        "ms_per_user_median": round(statistics.median(timings[1:]), 1),
        "ms_per_user_max": round(max(timings[1:]), 1),
        "goal_ms": 50,
    }


@contextmanager
def workers(redis_url: str, count: int, log: Path) -> Iterator[None]:
    """``count`` goat rq workers in subprocesses on ``redis_url``."""
    script = (
        "import sys; from goat_adapters.rq import redis_from_url, run_worker; "
        "run_worker(redis_from_url(sys.argv[1]), maintenance_interval=5)"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    with log.open("ab") as out:
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", script, redis_url],
                cwd=root,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            for _ in range(count)
        ]
    try:
        time.sleep(2.0)  # imported and listening
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def through_redis(
    server: PostgresServer, redis_url: str, jobs: int, rate: float | None = None
) -> dict[str, Any]:
    """No-op jobs committed to the job outbox, relayed to Redis, started by 2 workers.

    As fast as 4 producers commit them, or ``rate`` jobs per second from one producer (the
    latency of a job when the queue keeps up).
    """
    url = server.create_database()
    upgrade(url)
    # the workers import this file as ``benchmarks.jobs`` (the checkout is on their path)
    queue = RqJobQueue(redis_from_url(redis_url), function="benchmarks.jobs.noop_job")
    exchange, database = exchange_on(url, queue)
    relay = OutboxRelay(exchange.relay_jobs, interval=0.05, name="jobs")
    exchange.on_jobs_queued(relay.wake)
    connection = redis_from_url(redis_url)
    connection.delete(STARTED_KEY)
    committed: dict[str, float] = {}
    producers = 4 if rate is None else 1

    def produce(p: int) -> None:
        for i in range(p, jobs, producers):
            if rate is not None:
                time.sleep(1 / rate)
            name = f"noop-{i}"
            with database.unit_of_work() as uow:
                job: Job = Recommend(name)
                uow.jobs.add(job)
                uow.commit()
            committed[name] = time.time()
            exchange.context.jobs_queued()

    with workers(redis_url, 2, Path(tempfile.gettempdir()) / "goat-bench-workers.log"):
        relay.start()
        threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
        first = time.time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        deadline = time.time() + 120
        while connection.llen(STARTED_KEY) < jobs and time.time() < deadline:
            time.sleep(0.05)
        relay.stop()
    started = [json.loads(item) for item in connection.lrange(STARTED_KEY, 0, -1)]
    latencies = sorted((at - committed[name]) * 1000 for name, at in started)
    last = max(at for _, at in started)
    database.dispose()
    queue.close()
    return {
        "jobs": jobs,
        "committed_per_s": rate or "as fast as 4 threads commit",
        "started": len(started),
        "workers": 2,
        "jobs_per_s": round(len(started) / (last - first), 1),
        "commit_to_start_ms_p50": round(statistics.median(latencies), 1),
        "commit_to_start_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1], 1),
        "goal": {"jobs_per_s": 500, "p50_ms": 20},
    }


def purchases(server: PostgresServer, seconds: float, *, outbox: bool) -> float:
    """Wallet purchases per second, 16 threads over 100 fixtures."""
    url = server.create_database()
    upgrade(url)
    exchange, database = exchange_on(url, InMemoryJobQueue())
    exchange.ingest_fixtures([fixture(i, NOW + timedelta(days=7)) for i in range(1, 101)])
    threads = 16
    for t in range(threads):
        exchange.top_up(f"user-{t}", 10**12)
    done = [0] * threads
    stop = threading.Event()

    def buyer(t: int) -> None:
        i = t
        while not stop.is_set():
            exchange.buy_bonds(BuyBonds(f"user-{t}", 1 + i % 100, Outcome.HOME, 1, True))
            done[t] += 1
            i += threads

    add = SqlJobOutbox.add
    if not outbox:
        SqlJobOutbox.add = lambda self, *jobs: None  # type: ignore[method-assign]
    try:
        pool = [threading.Thread(target=buyer, args=(t,)) for t in range(threads)]
        for thread in pool:
            thread.start()
        time.sleep(1.0)  # warm up
        before, began = sum(done), time.perf_counter()
        time.sleep(seconds)
        after, ended = sum(done), time.perf_counter()
        stop.set()
        for thread in pool:
            thread.join()
    finally:
        SqlJobOutbox.add = add  # type: ignore[method-assign]
    database.dispose()
    return (after - before) / (ended - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000, help="no-op jobs through Redis")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of a purchase run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating purchase runs")
    parser.add_argument(
        "--only", choices=["recommendation", "redis", "outbox"], help="run one part alone"
    )
    options = parser.parse_args()
    parts = {options.only} if options.only else {"recommendation", "redis", "outbox"}
    bin_dir = find_binaries()
    redis_path = redis_server_path()
    if bin_dir is None or redis_path is None:
        sys.exit("needs PostgreSQL binaries and redis-server")
    report: dict[str, Any] = {"load_average_before": [round(n, 2) for n in os.getloadavg()]}
    with (
        PostgresServer(bin_dir, durable=True) as server,
        RedisServer(redis_path, Path(tempfile.mkdtemp(prefix="goat-bench-redis-"))) as redis,
    ):
        if "recommendation" in parts:
            report["recommendation"] = recommendation(server)
            print(json.dumps(report["recommendation"]), file=sys.stderr)
        if "redis" in parts:
            report["redis"] = through_redis(server, redis.url, options.jobs)
            print(json.dumps(report["redis"]), file=sys.stderr)
            report["redis_paced"] = through_redis(server, redis.url, 500, rate=100.0)
            print(json.dumps(report["redis_paced"]), file=sys.stderr)
        if "outbox" in parts:
            with_outbox, without = [], []
            for _ in range(options.rounds):
                with_outbox.append(purchases(server, options.seconds, outbox=True))
                without.append(purchases(server, options.seconds, outbox=False))
            a, b = statistics.median(with_outbox), statistics.median(without)
            report["outbox_cost"] = {
                "threads": 16,
                "purchases_per_s_with_job_outbox": round(a, 1),
                "purchases_per_s_without": round(b, 1),
                "cost_percent": round((1 - a / b) * 100, 1),
                "goal_percent": 5,
            }
            print(json.dumps(report["outbox_cost"]), file=sys.stderr)
    report["load_average_after"] = [round(n, 2) for n in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
