"""The HTTP API under load, on PostgreSQL, beside pgbench's single-row update rate.

    python benchmarks/api.py [--seconds 10] [--runs 3] [--listener] [--stored 1000000]

Starts its own PostgreSQL (durable: fsync and synchronous_commit on) and ``goat api``
processes on free ports of 127.0.0.1, then measures:

- pgbench: one-row ``UPDATE`` of a single hot row at 64 clients (the floor the database
  and the disk set for anything that touches one row per transaction), before and after
  the purchase runs; the purchases are compared with the higher of the two;
- POST /requests (wallet purchases of one bond, all on one hot fixture) at 64 concurrent
  keep-alive clients, with one API process and then with two (uvicorn workers);
- GET /fixtures (first page of 25) with 10,000 fixtures stored, at 16 clients: requests
  per second, p50 and p99 latency; with the one-second page cache (the default) and,
  for one process, without it (``GOAT_FIXTURES_CACHE_MS=0``);
- the resident memory (RSS) of each API process after the load;
- where the CPU of each purchase went: the API processes, the load generator,
  ``goat listener`` and mosquitto, every PostgreSQL process, and the whole machine (the
  kernel's own work, loopback TCP and interrupts, is most of the rest).

The purchase figure is fragile (pgbench itself varies by ~20 % from run to run here), so
each purchase measurement is repeated ``--runs`` times, each run right after a pgbench
run of its own, and the rates, the ratios and their min / median / max are printed.
``--listener`` starts ``goat listener`` beside the API (and mosquitto, or the embedded
broker, for it): its outbox relay publishes every purchase, as in production, on the
same cores. ``--stored N`` stores N purchases and 100,000 fixtures first (``listing.py``'s
seed, vacuumed and analyzed) and skips GET /fixtures: the purchases as data grows, to
compare with a run on an empty database.

The load generator is a small asyncio HTTP/1.1 client in its own process, so that the
measuring costs as little CPU as possible on the same machine. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from tests.servers.mqtt import MqttServer
from tests.servers.postgres import PostgresServer, find_binaries

from goat_adapters.memory import InMemoryJobQueue, InMemoryPaymentGateway
from goat_app.auth import DevelopmentTokenVerifier
from goat_app.compose import Overrides, build_system, upgrade_database
from goat_app.settings import Settings
from goat_core.model import Fixture, League, Odds, Team
from goat_core.wire import TOPIC_INFO, render_fixtures

HOT_FIXTURE = 1
STORED_FIXTURES = 100_000  # with --stored (the hot fixture comes after them)
WARMUP = 2.0  # seconds of load before measuring
BONDS = 1_000_000_000  # enough that the hot fixture never sells out during a run


# -- load generator ------------------------------------------------------------------------


async def _client(
    port: int, request: bytes, until: float, measure_from: float, out: dict[str, Any]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            started = time.perf_counter()
            if started >= until:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            ended = time.perf_counter()
            if started >= measure_from:
                out["statuses"][status] = out["statuses"].get(status, 0) + 1
                out["latencies"].append(ended - started)
    finally:
        writer.close()


def _load(port: int, requests: list[bytes], seconds: float, warmup: float, queue: Any) -> None:
    out: dict[str, Any] = {"statuses": {}, "latencies": []}

    async def run() -> None:
        now = time.perf_counter()
        until, measure_from = now + warmup + seconds, now + warmup
        await asyncio.gather(*(_client(port, r, until, measure_from, out) for r in requests))

    cpu = time.process_time()  # the load generator's own CPU, warm-up included
    asyncio.run(run())
    out["cpu_s"] = time.process_time() - cpu
    queue.put(out)


def load(
    port: int, requests: list[bytes], seconds: float, warmup: float = WARMUP
) -> dict[str, Any]:
    """Run one keep-alive connection per request template in a separate process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_load, args=(port, requests, seconds, warmup, queue))
    process.start()
    out: dict[str, Any] = queue.get()
    process.join()
    latencies = sorted(out["latencies"])
    total = len(latencies)

    def percentile(p: float) -> float:
        return round(latencies[min(total - 1, int(p * total))] * 1000, 2) if total else 0.0

    return {
        "requests_per_s": round(total / seconds, 1),
        "statuses": {str(k): v for k, v in sorted(out["statuses"].items())},
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "load_generator_cpu_s": out["cpu_s"],  # warm-up included
    }


def http_request(method: str, path: str, token: str | None = None, body: Any = None) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: keep-alive"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body is not None:
        lines.append("Content-Type: application/json")
    lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


# -- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Api:
    """``goat api`` with ``workers`` processes, stopped by its process id."""

    def __init__(self, database_url: str, data_dir: Path, workers: int, **settings: str) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOAT_")}
        env.update(
            GOAT_DATABASE_URL=database_url,
            GOAT_DATA_DIR=str(data_dir),
            GOAT_BONDS_PER_FIXTURE=str(BONDS),
            **settings,
        )
        self.log = data_dir / f"api-{self.port}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "goat_app.cli", "api", "--port", str(self.port),
                 "--no-access-log", "--workers", str(workers)],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(self.log.read_text())
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)

    def pids(self) -> list[int]:
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        return pids

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the API processes."""
        ticks = sum(_ticks(Path(f"/proc/{pid}/stat").read_text()) for pid in self.pids())
        return ticks / os.sysconf("SC_CLK_TCK")

    def measure(self, requests: list[bytes], seconds: float) -> dict[str, Any]:
        """Run the load; add the API's CPU time per answered request and its memory."""
        before = self.cpu_seconds()
        result = load(self.port, requests, seconds)
        # the CPU window includes the warm-up, at about the same rate
        used = (self.cpu_seconds() - before) * seconds / (seconds + WARMUP)
        answered = result["requests_per_s"] * seconds
        result["api_cpu_ms_per_request"] = round(used * 1000 / answered, 2) if answered else None
        generated = result.pop("load_generator_cpu_s") * seconds / (seconds + WARMUP)
        result["load_generator_cpu_ms_per_request"] = (
            round(generated * 1000 / answered, 3) if answered else None
        )
        result["rss_mb"] = self.rss_mb()
        return result

    def rss_mb(self) -> list[float]:
        """Resident memory of each API process (the supervisor first, then workers), in MB."""
        sizes = []
        for pid in self.pids():
            status = Path(f"/proc/{pid}/status").read_text()
            kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
            sizes.append(round(kb / 1024, 1))
        return sizes

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _ticks(stat: str) -> int:
    """utime + stime of a /proc/<pid>/stat line."""
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def cpu_seconds_of(name: str) -> float:
    """CPU time used so far by every process of the machine called ``name``."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            line = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        if f"({name})" in line:
            ticks += _ticks(line)
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time the whole machine spent busy so far (user, nice, system, irq, softirq)."""
    user, nice, system, _idle, _iowait, irq, softirq = Path("/proc/stat").read_text().split()[1:8]
    busy = int(user) + int(nice) + int(system) + int(irq) + int(softirq)
    return busy / os.sysconf("SC_CLK_TCK")


def spread(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 3),
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
    }


class Listener:
    """``goat listener`` (listener and outbox relay), stopped by its process id."""

    def __init__(self, database_url: str, data_dir: Path, broker_url: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOAT_")}
        env.update(
            GOAT_DATABASE_URL=database_url,
            GOAT_DATA_DIR=str(data_dir),
            GOAT_MQTT_URL=broker_url,
            GOAT_BONDS_PER_FIXTURE=str(BONDS),
        )
        self.log = data_dir / "listener.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "goat_app.cli", "listener"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        time.sleep(3)
        if self.process.poll() is not None:
            raise RuntimeError(self.log.read_text())

    def cpu_seconds(self) -> float:
        return _ticks(Path(f"/proc/{self.process.pid}/stat").read_text()) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return round(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024, 1)  # type: ignore[union-attr]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def run_pgbench(
    server: PostgresServer, database: str, script: str, clients: int, seconds: float, jobs: int = 2
) -> float:
    """Transactions per second of pgbench running ``script`` (prepared) on ``database``."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as file:
        file.write(script)
    try:
        result = server.run(
            "pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(jobs),
            "-T", str(max(1, round(seconds))), "-f", file.name, database,
        )  # fmt: skip
    finally:
        Path(file.name).unlink()
    match = re.search(r"tps = ([\d.]+)", result.stdout)
    if match is None:
        raise RuntimeError(f"pgbench said: {result.stdout}{result.stderr}")
    return float(match.group(1))


def pgbench(server: PostgresServer, clients: int, seconds: float) -> float:
    """Transactions per second of pgbench updating one hot row."""
    name = server.create_database().rsplit("/", 1)[1]
    server.run(
        "psql", "-q", "-d", name, "-c",
        "CREATE TABLE hot (id int PRIMARY KEY, available int NOT NULL);"
        "INSERT INTO hot VALUES (1, 1000000000);",
    )  # fmt: skip
    update = "UPDATE hot SET available = available - 1 WHERE id = 1 AND available >= 1;\n"
    return run_pgbench(server, name, update, clients, seconds)


def fixture(fixture_id: int, kickoff: datetime) -> Fixture:
    return Fixture(
        id=fixture_id,
        kickoff=kickoff,
        league=League(id=39, name="Premier League", round="Regular Season - 12", season=2024),
        home=Team(id=fixture_id * 2, name=f"Home {fixture_id}", logo="https://x.test/h.png"),
        away=Team(id=fixture_id * 2 + 1, name=f"Away {fixture_id}", logo="https://x.test/a.png"),
        odds=Odds(Decimal("1.85"), Decimal("3.40"), Decimal("4.20")),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per run")
    parser.add_argument(
        "--workers", default="1,2", help="API process counts to measure (%(default)s)"
    )
    parser.add_argument("--runs", type=int, default=3, help="purchase runs per process count")
    parser.add_argument("--listener", action="store_true", help="run goat listener beside")
    parser.add_argument(
        "--stored",
        type=int,
        default=0,
        help="purchases stored first, with 100,000 fixtures (listing.py's seed), to compare"
        " the purchases with those on an empty database; skips GET /fixtures",
    )
    arguments = parser.parse_args()
    counts = [int(n) for n in arguments.workers.split(",")]
    seconds = arguments.seconds
    bin_dir = find_binaries()
    if bin_dir is None or not (bin_dir / "pgbench").exists():
        sys.exit("needs PostgreSQL binaries with pgbench (postgresql-contrib)")

    report: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "seconds_per_run": seconds,
        "load_average_before": [round(n, 2) for n in os.getloadavg()],
    }
    with PostgresServer(bin_dir, durable=True) as server, tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        # pgbench before and after the purchases (it varies by ~20 % from run to run on
        # this machine): the purchases are compared with the higher of the two
        pgbench_runs = [round(pgbench(server, 64, seconds), 1)]

        url = server.create_database()
        settings = Settings(data_dir=data_dir, database_url=url, bonds_per_fixture=BONDS)
        upgrade_database(settings)
        hot = HOT_FIXTURE
        if arguments.stored:
            from benchmarks.listing import seed  # listing.py imports this module

            engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
            with engine.connect() as connection:
                report["stored"] = seed(
                    connection, STORED_FIXTURES, arguments.stored, "reader@bench.test"
                )
            engine.dispose()
            hot = STORED_FIXTURES + 1
        # the core over the benchmark's database, to seed it (the API processes build their own)
        seeding = build_system(
            settings,
            overrides=Overrides(payments=InMemoryPaymentGateway(), jobs=InMemoryJobQueue()),
        )
        exchange = seeding.exchange
        later = datetime.now(UTC) + timedelta(days=30)
        exchange.receive(TOPIC_INFO, render_fixtures([fixture(hot, later)]))
        tokens = DevelopmentTokenVerifier(data_dir)
        buy = {"fixture_id": hot, "result": "home", "quantity": 1, "wallet": True}
        purchases = []
        for i in range(64):
            email = f"buyer{i}@bench.test"
            exchange.top_up(f"dev|{email}", 10**12)
            purchases.append(http_request("POST", "/requests", tokens.issue(email), buy))

        listener = None
        broker = None
        if arguments.listener:
            broker = MqttServer(data_dir / "broker").start()
            listener = Listener(url, data_dir, broker.url)
        try:
            for workers in counts:
                runs = []
                for _ in range(arguments.runs):
                    reference = pgbench(server, 64, seconds)
                    pgbench_runs.append(round(reference, 1))
                    api = Api(url, data_dir, workers)
                    others = {
                        "postgresql": lambda: cpu_seconds_of("postgres"),
                        "machine": machine_cpu_seconds,
                    }
                    if listener is not None:
                        others["listener"] = listener.cpu_seconds
                        if broker is not None and broker.kind == "mosquitto":
                            others["mosquitto"] = lambda: cpu_seconds_of("mosquitto")
                    before = {name: cpu() for name, cpu in others.items()}
                    try:
                        result = api.measure(purchases, seconds)
                        # before the API stops: its PostgreSQL backends end with it
                        after = {name: cpu() for name, cpu in others.items()}
                    finally:
                        api.stop()
                    # where the CPU went, per purchase (the window includes the warm-up)
                    answered = result["requests_per_s"] * (seconds + WARMUP)
                    result["cpu_ms_per_request"] = {
                        "api": result["api_cpu_ms_per_request"],
                        "load_generator": result["load_generator_cpu_ms_per_request"],
                        **{
                            name: round((after[name] - before[name]) * 1000 / answered, 3)
                            for name in others
                        },
                    }
                    result["pgbench_same_run"] = round(reference, 1)
                    result["ratio_to_pgbench"] = round(result["requests_per_s"] / reference, 3)
                    if listener is not None:
                        result["listener_rss_mb"] = listener.rss_mb()
                    runs.append(result)
                report[f"purchases_64_clients_{workers}_api_process"] = {
                    "runs": runs,
                    "requests_per_s": spread([r["requests_per_s"] for r in runs]),
                    "ratio_to_pgbench": spread([r["ratio_to_pgbench"] for r in runs]),
                    "p99_ms": spread([r["p99_ms"] for r in runs]),
                    "api_cpu_ms_per_request": spread([r["api_cpu_ms_per_request"] for r in runs]),
                    "cpu_ms_per_request_median": {
                        name: statistics.median(r["cpu_ms_per_request"][name] for r in runs)
                        for name in runs[0]["cpu_ms_per_request"]
                    },
                    "rss_mb_max": max(max(r["rss_mb"]) for r in runs),
                }
        finally:
            if listener is not None:
                listener.stop()
            if broker is not None:
                broker.stop()

        pgbench_runs.append(round(pgbench(server, 64, seconds), 1))
        report["pgbench_hot_row_updates_per_s_64_clients_before_and_after"] = pgbench_runs
        report["pgbench_hot_row_updates_per_s_64_clients"] = max(pgbench_runs)

        if not arguments.stored:
            list_fixtures(report, url, data_dir, counts, seconds, exchange, later)
        seeding.close()

    goals: dict[str, Any] = {"purchases_goal_ratio_to_pgbench": {"1": 1.0, "2": 1.3}}
    for workers in counts:
        bought = report[f"purchases_64_clients_{workers}_api_process"]
        listed = report.get(f"get_fixtures_16_clients_{workers}_api_process")
        goal = 1.0 if workers == 1 else 1.3
        goals[f"{workers}_api_process"] = {
            "purchases_ratio_to_pgbench_median": bought["ratio_to_pgbench"]["median"],
            "purchases_met": bought["ratio_to_pgbench"]["median"] >= goal,
            "memory_met (<= 150 MB per process)": max(
                [bought["rss_mb_max"], *(listed["rss_mb"] if listed else [])]
            )
            <= 150,
        }
        if listed:
            goals[f"{workers}_api_process"]["get_fixtures_met (>= 1000 req/s, p99 <= 50 ms)"] = (
                listed["requests_per_s"] >= 1000 and listed["p99_ms"] <= 50
            )
    report["goals"] = goals
    report["load_average_after"] = [round(n, 2) for n in os.getloadavg()]
    print(json.dumps(report, indent=2))


def list_fixtures(
    report: dict[str, Any],
    url: str,
    data_dir: Path,
    counts: list[int],
    seconds: float,
    exchange: Any,
    later: datetime,
) -> None:
    """GET /fixtures with 10,000 fixtures stored, with and without the page cache."""
    for start in range(2, 10_002, 1000):
        batch = [fixture(n, later + timedelta(minutes=n)) for n in range(start, start + 1000)]
        exchange.receive(TOPIC_INFO, render_fixtures(batch))
    listing = [http_request("GET", "/fixtures")] * 16
    api = Api(url, data_dir, 1, GOAT_FIXTURES_CACHE_MS="0")
    try:
        result = api.measure(listing, seconds)
    finally:
        api.stop()
    report["get_fixtures_16_clients_1_api_process_without_page_cache"] = result
    for workers in counts:
        api = Api(url, data_dir, workers)
        try:
            page = httpx.get(f"http://127.0.0.1:{api.port}/fixtures").json()
            report["fixtures_stored"] = page["total"]
            result = api.measure(listing, seconds)
        finally:
            api.stop()
        report[f"get_fixtures_16_clients_{workers}_api_process"] = result


if __name__ == "__main__":
    main()
