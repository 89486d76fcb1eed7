"""Purchases per second on PostgreSQL, beside pgbench's single-row update rate.

    python benchmarks/purchases.py [--seconds 5] [--threads 1,16,64]

Starts its own PostgreSQL (durable: fsync and synchronous_commit on), then measures:

- ``Exchange.buy_bonds`` (wallet purchases: purchase row, wallet debit and ledger row,
  outbox message, conditional reservation; the purchases of the same moment share one
  transaction) at each thread count, on one hot fixture and spread over 100 fixtures,
  with this process's CPU time per purchase;
- pgbench running a one-row ``UPDATE`` at the same client counts, on one hot row and
  spread over 100 rows: the floor set by the database and the disk;
- the time to receive one fixtures/info message of 100 fixtures with odds (median).

Each figure is the median of ``--rounds`` runs, purchases and pgbench alternating.
Prints one JSON document (and each line of it on stderr as it is measured).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from benchmarks.api import run_pgbench
from tests.servers.postgres import PostgresServer, find_binaries

from goat_adapters.memory import InMemoryJobQueue, InMemoryPaymentGateway, ManualClock
from goat_adapters.sql import SqlDatabase, upgrade
from goat_core.model import Fixture, League, Odds, Outcome, Rules, Team
from goat_core.services import BuyBonds, Exchange
from goat_core.wire import TOPIC_INFO, render_fixtures

NOW = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)
SPREAD = 100


class UniqueIds:
    """Thread-safe UUID-like ids."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0

    def new_id(self) -> str:
        with self._lock:
            self._next += 1
            return f"00000000-0000-4000-8000-{self._next:012d}"


def fixture(fixture_id: int, referee: str = "M. Oliver") -> Fixture:
    return Fixture(
        id=fixture_id,
        kickoff=NOW + timedelta(days=7, hours=fixture_id),
        league=League(39, "Premier League", "Regular Season - 12", "England", None, None, 2024),
        home=Team(fixture_id * 10, f"Home {fixture_id}", "https://media.invalid/h.png"),
        away=Team(fixture_id * 10 + 1, f"Away {fixture_id}", "https://media.invalid/a.png"),
        referee=referee,
        odds=Odds(Decimal("1.85"), Decimal("3.40"), Decimal("4.10")),
    )


@attrs.define
class Bench:
    server: PostgresServer
    seconds: float
    pool_size: int

    def exchange(self, url: str) -> tuple[Exchange, SqlDatabase]:
        database = SqlDatabase(url, pool_size=self.pool_size, max_overflow=0)
        exchange = Exchange(
            uow=database.unit_of_work,
            payments=InMemoryPaymentGateway(),
            jobs=InMemoryJobQueue(),
            clock=ManualClock(NOW),
            ids=UniqueIds(),
            rules=Rules(bonds_per_fixture=10**9),  # never sold out within a run
        )
        return exchange, database

    def purchases(self, threads: int, fixtures: int) -> tuple[float, float]:
        """Purchases per second through Exchange.buy_bonds, and this process's CPU ms each."""
        url = self.server.create_database()
        upgrade(url)
        exchange, database = self.exchange(url)
        exchange.ingest_fixtures([fixture(i) for i in range(1, fixtures + 1)])
        for t in range(threads):
            exchange.top_up(f"user-{t}", 10**12)
        done = [0] * threads
        start = threading.Barrier(threads + 1)
        stop = threading.Event()

        def buyer(t: int) -> None:
            start.wait()
            i = t
            while not stop.is_set():
                fixture_id = 1 + i % fixtures
                exchange.buy_bonds(BuyBonds(f"user-{t}", fixture_id, Outcome.HOME, 1, True))
                done[t] += 1
                i += threads

        workers = [threading.Thread(target=buyer, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        start.wait()
        time.sleep(min(1.0, self.seconds / 4))  # warm up: pool filled, statements prepared
        before, began, cpu = sum(done), time.perf_counter(), time.process_time()
        time.sleep(self.seconds)
        after, ended, cpu = sum(done), time.perf_counter(), time.process_time() - cpu
        stop.set()
        for worker in workers:
            worker.join()
        database.dispose()
        return (after - before) / (ended - began), cpu * 1000 / max(1, after - before)

    def pgbench(self, clients: int, rows: int) -> float:
        """Transactions per second of pgbench updating one row of ``rows`` per transaction."""
        url = self.server.create_database()
        name = url.rsplit("/", 1)[1]
        self.server.run(
            "psql",
            "-q",
            "-d",
            name,
            "-c",
            "CREATE TABLE bench_rows (id int PRIMARY KEY, available int NOT NULL);"
            f"INSERT INTO bench_rows SELECT g, 1000000000 FROM generate_series(1, {rows}) g;",
        )
        update = (
            f"\\set id random(1, {rows})\n"
            "UPDATE bench_rows SET available = available - 1 WHERE id = :id AND available >= 1;\n"
        )
        return run_pgbench(self.server, name, update, clients, self.seconds, min(clients, 4))

    def ingest(self, runs: int = 15) -> dict[str, float]:
        """Milliseconds to receive one fixtures/info message of 100 fixtures with odds."""
        url = self.server.create_database()
        upgrade(url)
        exchange, database = self.exchange(url)
        timings = []
        for run in range(runs + 1):
            # each run describes the same fixtures differently, so that none is a duplicate
            payload = render_fixtures([fixture(i, f"Referee {run}") for i in range(1, 101)])
            began = time.perf_counter()
            assert exchange.receive(TOPIC_INFO, payload) == "applied"
            timings.append((time.perf_counter() - began) * 1000)
        database.dispose()
        return {
            "first_insert_ms": round(timings[0], 2),
            "update_median_ms": round(statistics.median(timings[1:]), 2),
            "update_max_ms": round(max(timings[1:]), 2),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each run")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating runs of each kind; medians are kept"
    )
    parser.add_argument("--threads", default="1,16,64", help="thread/client counts")
    parser.add_argument("--pool-size", type=int, default=8, help="connections in the pool")
    options = parser.parse_args()
    counts = [int(n) for n in options.threads.split(",")]
    bin_dir = find_binaries()
    if bin_dir is None:
        sys.exit("no PostgreSQL binaries: install postgresql (and postgresql-contrib)")
    if not (bin_dir / "pgbench").exists():
        sys.exit(f"no pgbench beside {bin_dir / 'postgres'}: install postgresql-contrib")
    with PostgresServer(bin_dir, durable=True) as server:
        report: dict[str, Any] = {
            "postgres": subprocess.run(
                [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True
            ).stdout.strip(),
            "seconds_per_run": options.seconds,
            "rounds": options.rounds,
            "pool_size": options.pool_size,
            "durable": {"fsync": "on", "synchronous_commit": "on"},
            "load_average_before": [round(n, 2) for n in os.getloadavg()],
            "runs": [],
        }
        for threads in counts:
            bench = Bench(server, options.seconds, min(threads, options.pool_size))
            for label, fixtures in (("hot", 1), ("spread", SPREAD)):
                # alternate the two so that a busy neighbour slows both alike
                samples = [
                    (bench.purchases(threads, fixtures), bench.pgbench(threads, fixtures))
                    for _ in range(options.rounds)
                ]
                buys = statistics.median(b for (b, _), _ in samples)
                cpu = statistics.median(c for (_, c), _ in samples)
                updates = statistics.median(u for _, u in samples)
                report["runs"].append(
                    {
                        "threads": threads,
                        "fixtures": label,
                        "purchases_per_s": round(buys, 1),
                        # CPU of the whole benchmark process (all threads) per purchase
                        "python_cpu_ms_per_purchase": round(cpu, 3),
                        "pgbench_updates_per_s": round(updates, 1),
                        "ratio": round(buys / updates, 3),
                    }
                )
                print(json.dumps(report["runs"][-1]), file=sys.stderr)
        report["ingest_100_fixtures"] = Bench(server, options.seconds, 4).ingest()
        report["load_average_after"] = [round(n, 2) for n in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
