"""The worker side of the rq jobs: what ``goat worker`` runs, and what rq calls per job.

``run(kind, **fields)`` is the function every goat job names in Redis. It runs in a
``goat worker`` process, whose system (``compose.build_system`` from the environment) is
built once, before the first job, and used by every job after it. With
``GOAT_WORKER_PORT`` it answers ``/health`` and ``/metrics`` (jobs run and failed by kind,
the time per job) on that port, as ``goat listener`` does on its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from goat_adapters.rq import DEFAULT_QUEUE, redis_from_url, run_worker, take
from goat_app.compose import JOB_FUNCTION, System, build_system, without_password
from goat_app.metrics import JobMetrics
from goat_app.probes import ProbeServer, json_answer, metrics_answer
from goat_app.settings import Settings, SettingsError
from goat_app.startup import keep_startup_objects

__all__ = ["JOB_FUNCTION", "run", "work"]

log = logging.getLogger("goat.worker")

_lock = threading.Lock()
_system: System | None = None
_metrics = JobMetrics()
"""This process's jobs, counted by ``run`` and served on ``GOAT_WORKER_PORT``."""


def _built() -> System:
    global _system
    with _lock:
        if _system is None:
            _system = build_system(Settings.from_env(), relay_jobs=False)
        return _system


def run(kind: str, **fields: object) -> None:
    """Run one goat job in this worker process (rq calls it; jobs are safe to run twice)."""
    job = take(kind, fields)
    started = time.perf_counter()
    failed = True
    try:
        _built().exchange.run_job(job)
        failed = False
    finally:
        _metrics.observe(kind, time.perf_counter() - started, failed=failed)


def work(
    settings: Settings,
    queues: Sequence[str] = (DEFAULT_QUEUE,),
    *,
    abandoned_grace: int = 60,
    maintenance_interval: int = 60,
    burst: bool = False,
) -> bool:
    """Build the system, then work ``queues`` on ``GOAT_REDIS_URL`` until stopped.

    It owns its process: what it built is kept out of the garbage collector's sight
    (``keep_startup_objects``), never freed.
    """
    global _system
    if settings.redis_url is None:
        raise SettingsError("GOAT_REDIS_URL is required: it is where the worker takes jobs")
    system = build_system(settings, relay_jobs=False)
    with _lock:
        _system = system
    # what was built at start lives as long as the process: out of the collector's way,
    # so that a job that reads thousands of rows is not slowed by sweeps over all of it
    keep_startup_objects()
    connection = redis_from_url(settings.redis_url)
    probes = None
    try:
        if settings.worker_port is not None:
            routes = {
                "/health": lambda: json_answer(200, {"status": "ok"}),
                "/metrics": metrics_answer(_metrics.registry),
            }
            probes = ProbeServer(routes, settings.worker_port, name="goat-worker-probes").start()
            log.info("/health and /metrics on port %d", probes.address[1])
        log.info("working queues %s on %s", ", ".join(queues), without_password(settings.redis_url))
        return run_worker(
            connection,
            queues,
            abandoned_grace=abandoned_grace,
            maintenance_interval=maintenance_interval,
            burst=burst,
        )
    finally:
        if probes is not None:
            probes.stop()
        with _lock:
            _system = None
        connection.close()
        system.close()
