"""Reads as data grows: GET /fixtures without its page cache, each filter, and GET /requests.

    python benchmarks/listing.py [--fixtures 100000] [--purchases 1000000] [--seconds 5]

Starts its own durable PostgreSQL (fsync and synchronous_commit on), migrates it, and
stores ``--fixtures`` fixtures (one in 16 not started yet, the rest finished over the
past three years, 500 teams) and ``--purchases`` purchases (10,000 of them one user's,
the rest spread over 10,000 other users and other groups) with ``generate_series``: a
million rows take seconds. Then ``goat api`` with the page cache off
(``GOAT_FIXTURES_CACHE_MS=0``), with one process and then with two (``--workers``),
answers, at ``--clients`` keep-alive clients each:

- ``GET /fixtures``: the first page, a later page, and each filter (home, away, date,
  status);
- ``GET /requests`` of the user with 10,000 purchases (first page, a later page, one
  status).

For each: the page's total (to check the answer), requests per second, p50 and p99,
the API's CPU per request. Beside them, in
the same run, the physical reference: pgbench's primary-key ``SELECT`` of one row at the
same number of clients (``-M prepared``, ``-S``-like). Then ``EXPLAIN ANALYZE`` of every
statement the repositories send for a first page of each kind, as the plans the figures
rely on. Prints one JSON document, with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import httpx
import sqlalchemy as sa
from benchmarks.api import Api, http_request, run_pgbench
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from tests.servers.postgres import PostgresServer, find_binaries

from goat_adapters.sql.fixtures import SqlFixtureRepository
from goat_adapters.sql.purchases import SqlPurchaseRepository
from goat_adapters.sql.statements import Ran, Statement
from goat_app.auth import DevelopmentTokenVerifier, development_subject
from goat_app.compose import upgrade_database
from goat_app.settings import Settings
from goat_core.model import FixtureStage
from goat_core.ports import FixtureQuery

BUYER = "reader@bench.test"
TEAMS = 500

SEED_FIXTURES = """
INSERT INTO fixtures (id, kickoff, kickoff_date, timezone, status, status_long, elapsed,
    league_id, league_name, league_round, league_country, league_season,
    home_id, home_name, home_search, home_logo, away_id, away_name, away_search, away_logo,
    goals_home, goals_away, odds_home, odds_draw, odds_away, available, updated_at)
SELECT n, k, (k AT TIME ZONE 'UTC')::date, 'UTC',
    CASE WHEN k > now() THEN 'NS' ELSE 'FT' END,
    CASE WHEN k > now() THEN 'Not Started' ELSE 'Match Finished' END,
    CASE WHEN k > now() THEN NULL ELSE 90 END,
    39, 'Premier League', 'Regular Season - ' || (n % 38 + 1), 'England', 2024,
    h, 'Team ' || h, 'team ' || h, 'https://media.invalid/t.png',
    a, 'Team ' || a, 'team ' || a, 'https://media.invalid/t.png',
    CASE WHEN k > now() THEN NULL ELSE n % 4 END, CASE WHEN k > now() THEN NULL ELSE n % 3 END,
    '1.85', '3.40', '4.20', 40, now()
FROM (
    SELECT n, now() - interval '1095 days' + n * (interval '1 day' * 1168 / :count) AS k,
        n % :teams AS h, (n * 7 + 1) % :teams AS a
    FROM generate_series(1, :count) AS n
) AS g
"""
SEED_PURCHASES = """
INSERT INTO purchases (request_id, group_id, fixture_id, league_name, round, date, result,
    quantity, reserved, wallet, created_at, status, deposit_token, seller, user_id,
    updated_at)
SELECT 'bench-' || n, CASE WHEN n % 3 = 0 THEN '6' ELSE '15' END, 1 + n % :fixtures,
    'Premier League', 'Regular Season - 1', '2024-10-05',
    (ARRAY['home', 'draw', 'away'])[1 + n % 3], 1, 1, true,
    now() - n * interval '1 second',
    (ARRAY['accepted', 'rejected', 'won', 'lost', 'pending'])[1 + n % 5], '', 0,
    CASE WHEN n % 3 = 0 THEN NULL
         WHEN n <= :mine * 3 AND n % 3 = 1 THEN :buyer ELSE 'bench|user' || (n % 10000) END,
    now()
FROM generate_series(1, :count) AS n
"""


def seed(connection: Connection, fixtures: int, purchases: int, buyer: str) -> dict[str, int]:
    connection.execute(sa.text(SEED_FIXTURES), {"count": fixtures, "teams": TEAMS})
    # the user's 10,000 purchases are n = 1, 4, 7, ... (n % 3 = 1, n <= 30,000)
    mine = min(10_000, purchases // 3)
    connection.execute(
        sa.text(SEED_PURCHASES),
        {"count": purchases, "fixtures": fixtures, "mine": mine, "buyer": buyer},
    )
    # registered, as the API would have before any purchase: the plans show its row read
    connection.execute(sa.text("INSERT INTO users (id, wallet) VALUES (:u, 0)"), {"u": buyer})
    connection.commit()
    # as autovacuum leaves a table that stopped growing: statistics and visibility map
    vacuuming = connection.execution_options(isolation_level="AUTOCOMMIT")
    vacuuming.exec_driver_sql("VACUUM (ANALYZE) fixtures")
    vacuuming.exec_driver_sql("VACUUM (ANALYZE) purchases")
    mine_stored = connection.execute(
        sa.text("SELECT count(*) FROM purchases WHERE user_id = :u"), {"u": buyer}
    ).scalar_one()
    return {"fixtures": fixtures, "purchases": purchases, "buyer_purchases": int(mine_stored)}


class Explaining:
    """A repository's transaction that runs each statement after ``EXPLAIN ANALYZE``-ing it."""

    dialect = "postgresql"

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.plans: list[dict[str, Any]] = []

    def execute(self, statement: Any, parameters: Any = None) -> Any:
        sql = str(
            statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        )
        plan = self.connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        self.plans.append({"sql": " ".join(sql.split()), "plan": [row[0] for row in plan]})
        return self.connection.execute(statement, parameters)

    def run(self, statement: Statement, parameters: Any) -> Any:
        prepared = statement.prepared(self.connection.dialect)
        values = prepared.parameters(parameters)
        cursor = self.connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        plan = cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + prepared.sql, values).fetchall()
        self.plans.append({"sql": " ".join(prepared.sql.split()), "plan": [r[0] for r in plan]})
        cursor.execute(prepared.sql, values)
        rows = prepared.rows(cursor.fetchall()) if prepared.row else []
        return Ran(rows, cursor.rowcount)

    def run_many(self, batches: Any) -> None:  # pragma: no cover
        raise NotImplementedError


def explain(connection: Connection, buyer: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    queries = {
        "fixtures": FixtureQuery(now),
        "fixtures_page_200": FixtureQuery(now, page=200),
        "fixtures_home": FixtureQuery(now, home="Team 17"),
        "fixtures_away": FixtureQuery(now, away="Team 17"),
        "fixtures_date": FixtureQuery(now, date=(now + timedelta(days=20)).date()),
        "fixtures_status_finished": FixtureQuery(now, stage=FixtureStage.FINISHED),
    }
    plans: dict[str, Any] = {}
    for name, query in queries.items():
        tx = Explaining(connection)
        SqlFixtureRepository(tx).page(query)
        plans[name] = tx.plans
    tx = Explaining(connection)
    SqlPurchaseRepository(tx).page_for_user(buyer, None, 1, 25)
    plans["requests"] = tx.plans
    connection.rollback()
    return plans


def pgbench_select(server: PostgresServer, url: str, clients: int, seconds: float) -> float:
    """pgbench's primary-key read of one fixture row, the floor of one round trip."""
    select = "\\set id random(1, 100000)\nSELECT * FROM fixtures WHERE id = :id;\n"
    return round(run_pgbench(server, url.rsplit("/", 1)[1], select, clients, seconds), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", type=int, default=100_000)
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--no-explain", action="store_true")
    parser.add_argument(
        "--workers", default="1,2", help="API process counts to measure (%(default)s)"
    )
    arguments = parser.parse_args()
    bin_dir = find_binaries()
    if bin_dir is None or not (bin_dir / "pgbench").exists():
        sys.exit("needs PostgreSQL binaries with pgbench (postgresql-contrib)")
    report: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "seconds_per_run": arguments.seconds,
        "clients": arguments.clients,
        "load_average_before": [round(n, 2) for n in os.getloadavg()],
    }
    clients = arguments.clients
    with PostgresServer(bin_dir, durable=True) as server, tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        url = server.create_database()
        settings = Settings(data_dir=data_dir, database_url=url)
        upgrade_database(settings)
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        buyer = development_subject(BUYER)
        with engine.connect() as connection:
            report["stored"] = seed(connection, arguments.fixtures, arguments.purchases, buyer)
            if not arguments.no_explain:
                report["plans"] = explain(connection, buyer)
        engine.dispose()
        report["pgbench_pk_select_per_s_before"] = pgbench_select(
            server, url, clients, arguments.seconds
        )
        token = DevelopmentTokenVerifier(data_dir).issue(BUYER)
        day = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()
        paths = {
            "fixtures": "/fixtures",
            "fixtures_page_200": "/fixtures?page=200",
            "fixtures_home": "/fixtures?" + urlencode({"home": "Team 17"}),
            "fixtures_away": "/fixtures?" + urlencode({"away": "Team 17"}),
            "fixtures_date": f"/fixtures?date={day}",
            "fixtures_status_upcoming": "/fixtures?status=upcoming",
            "fixtures_status_finished": "/fixtures?status=finished",
            "requests": "/requests",
            "requests_page_100": "/requests?page=100",
            "requests_status_won": "/requests?status=won",
        }
        for workers in [int(n) for n in arguments.workers.split(",")]:
            api = Api(url, data_dir, workers, GOAT_FIXTURES_CACHE_MS="0")
            key = "" if workers == 1 else f"_{workers}_api_processes"
            try:
                for name, path in paths.items():
                    authorized = token if name.startswith("requests") else None
                    # the page's total, to see that the answer measured is the right one
                    headers = {"Authorization": f"Bearer {authorized}"} if authorized else {}
                    address = f"http://127.0.0.1:{api.port}{path}"
                    answered = httpx.get(address, headers=headers, timeout=10).json()
                    result = api.measure(
                        [http_request("GET", path, authorized)] * clients, arguments.seconds
                    )
                    report[name + key] = {"path": path, "total": answered["total"], **result}
            finally:
                api.stop()
        report["pgbench_pk_select_per_s_after"] = pgbench_select(
            server, url, clients, arguments.seconds
        )
    report["load_average_after"] = [round(n, 2) for n in os.getloadavg()]
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
