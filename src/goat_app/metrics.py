"""Prometheus metrics of a process, observed at its edges (never in ``goat_core``).

Each app (``create_app``) and each listener's probe port has its own registry: what the
HTTP edge counts (``HttpMetrics``: latency by route template, purchases by outcome) and,
read at scrape time, what the system knows (``SystemCollector``: the broker side's
counters by topic and outcome, whether this relay holds the outbox lease, the outbox
and job outbox backlogs, dead letters, the database pool's connections). ``render``
turns a registry into Prometheus' text format.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.pool import QueuePool

from goat_adapters.rq import RqJobQueue
from goat_app.compose import System
from goat_core.model import Viewer

__all__ = [
    "CONTENT_TYPE",
    "HttpMetrics",
    "JobMetrics",
    "JobQueueCollector",
    "SystemCollector",
    "render",
    "system_registry",
]

log = logging.getLogger("goat.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""Prometheus' text exposition format."""

_OPERATOR = Viewer("goat-metrics", admin=True)
"""Who counts the dead letters (an admin-only query)."""

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class SystemCollector(Collector):
    """Reads the system at scrape time: the broker side's counters, the outbox backlog and
    the dead letters (one small query each; a database that does not answer is
    ``goat_database_up 0``, not a failed scrape)."""

    def __init__(self, system: System) -> None:
        self.system = system

    def collect(self) -> Iterator[Metric]:
        yield from self._broker()
        if self.system.job_relay is not None:
            yield GaugeMetricFamily(
                "goat_job_relay_publishing",
                "Whether this process's job relay holds the job lease and relays (1) or stands by",
                value=int(self.system.job_relay.publishing),
            )
        yield from self._database()
        yield from self._pool()

    def _broker(self) -> Iterator[Metric]:
        side = self.system.broker
        if side is None:
            return
        snapshot = side.counters.snapshot()
        messages = CounterMetricFamily(
            "goat_broker_messages",
            "Broker messages applied by the listener, by topic and Handled outcome",
            labels=["topic", "outcome"],
        )
        for (topic, outcome), count in sorted(side.counters.by_topic().items()):
            messages.add_metric([topic, outcome], count)
        yield messages
        for name, meaning in (
            ("received", "Broker messages received by the listener"),
            ("retries", "Rounds the listener retried after an outage"),
            ("published", "Our messages acknowledged by the broker"),
        ):
            yield CounterMetricFamily(f"goat_broker_{name}", meaning, value=int(snapshot[name]))
        connected = GaugeMetricFamily(
            "goat_broker_connected", "Whether the client is connected (1) or not", labels=["client"]
        )
        connected.add_metric(["listener"], int(bool(snapshot["listener_connected"])))
        connected.add_metric(["publisher"], int(bool(snapshot["publisher_connected"])))
        yield connected
        yield GaugeMetricFamily(
            "goat_relay_publishing",
            "Whether this process's relay holds the outbox lease and publishes (1) or stands by",
            value=int(side.relay.publishing),
        )
        yield GaugeMetricFamily(
            "goat_relay_lag_seconds",
            "Seconds since this relay last had nothing to send: the oldest waiting message"
            " has waited at most that long (0 while standing by)",
            value=side.relay.lag(),
        )

    def _database(self) -> Iterator[Metric]:
        exchange = self.system.exchange
        try:
            backlog = exchange.outbox_backlog()
            jobs = exchange.jobs_backlog()
            dead = exchange.dead_letters(_OPERATOR, 1, 1).total
        except Exception as error:  # a scrape reports the outage rather than failing
            log.warning("metrics: the database did not answer: %s", error)
            yield GaugeMetricFamily("goat_database_up", "Whether the database answers", value=0)
            return
        yield GaugeMetricFamily("goat_database_up", "Whether the database answers", value=1)
        yield GaugeMetricFamily(
            "goat_outbox_backlog", "Our messages waiting in the outbox to be published", backlog
        )
        yield GaugeMetricFamily(
            "goat_job_outbox_backlog", "Jobs decided but not handed to the job queue yet", jobs
        )
        yield GaugeMetricFamily(
            "goat_dead_letters", "Broker messages kept because they could not be applied", dead
        )

    def _pool(self) -> Iterator[Metric]:
        pool = self.system.sql.engine.pool if self.system.sql is not None else None
        if not isinstance(pool, QueuePool):  # SQLite's pools keep no such counts
            return
        connections = GaugeMetricFamily(
            "goat_db_pool_connections",
            "This process's database connections: in use, idle, and the pool's size",
            labels=["state"],
        )
        connections.add_metric(["in_use"], pool.checkedout())
        connections.add_metric(["idle"], pool.checkedin())
        connections.add_metric(["size"], pool.size())
        yield connections


class JobQueueCollector(Collector):
    """The rq queue's jobs by state, read at scrape time (the jobs service's ``/metrics``);
    Redis not answering is ``goat_redis_up 0``."""

    def __init__(self, queue: RqJobQueue) -> None:
        self.queue = queue

    def collect(self) -> Iterator[Metric]:
        try:
            sizes = self.queue.sizes()
        except Exception as error:  # a scrape reports the outage rather than failing
            log.warning("metrics: Redis did not answer: %s", error)
            yield GaugeMetricFamily("goat_redis_up", "Whether Redis answers", value=0)
            return
        yield GaugeMetricFamily("goat_redis_up", "Whether Redis answers", value=1)
        jobs = GaugeMetricFamily(
            "goat_jobs", "Jobs on the rq queue: queued, started, failed (kept)", labels=["state"]
        )
        for state, count in sizes.items():
            jobs.add_metric([state], count)
        yield jobs


class HttpMetrics:
    """The API's registry: what the HTTP edge observes, plus ``SystemCollector``."""

    def __init__(self, system: System) -> None:
        self.registry = system_registry(system)
        self.latency = Histogram(
            "goat_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.purchases = Counter(
            "goat_purchases",
            "POST /requests answers: bought, or the refusal's kind",
            ["outcome"],
            registry=self.registry,
        )


class JobMetrics:
    """A worker's registry (``goat worker``'s ``/metrics``): the jobs it ran by kind and
    outcome, and the time each took."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.jobs = Counter(
            "goat_worker_jobs",
            "Jobs this worker ran, by kind and outcome (done or failed)",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "goat_worker_job_duration_seconds",
            "Time to run one job in this worker, by kind",
            ["kind"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe(self, kind: str, seconds: float, *, failed: bool) -> None:
        """One job of ``kind`` ran for ``seconds``, and failed or not."""
        self.jobs.labels(kind=kind, outcome="failed" if failed else "done").inc()
        self.duration.labels(kind=kind).observe(seconds)


def system_registry(system: System) -> CollectorRegistry:
    """A registry of its own holding ``SystemCollector(system)``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SystemCollector(system))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus' text format (``CONTENT_TYPE``)."""
    return generate_latest(registry)
