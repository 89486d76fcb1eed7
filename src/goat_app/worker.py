"""The worker side of the rq jobs: what ``goat worker`` runs, and what rq calls per job.

``run(kind, **fields)`` is the function every goat job names in Redis. It runs in a
``goat worker`` process, whose system (``compose.build_system`` from the environment) is
built once, before the first job, and used by every job after it.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Sequence

from goat_adapters.rq import DEFAULT_QUEUE, redis_from_url, run_worker, take
from goat_app.compose import System, build_system
from goat_app.settings import Settings, SettingsError

__all__ = ["JOB_FUNCTION", "run", "work"]

log = logging.getLogger("goat.worker")

JOB_FUNCTION = "goat_app.worker.run"
"""The dotted name of ``run``, as the queue writes it into every job."""

_lock = threading.Lock()
_system: System | None = None


def _built() -> System:
    global _system
    with _lock:
        if _system is None:
            _system = build_system(Settings.from_env(), relay_jobs=False)
        return _system


def run(kind: str, **fields: object) -> None:
    """Run one goat job in this worker process (rq calls it; jobs are safe to run twice)."""
    job = take(kind, fields)
    _built().exchange.run_job(job)


def work(
    settings: Settings,
    queues: Sequence[str] = (DEFAULT_QUEUE,),
    *,
    abandoned_grace: int = 60,
    maintenance_interval: int = 60,
    burst: bool = False,
) -> bool:
    """Build the system, then work ``queues`` on ``GOAT_REDIS_URL`` until stopped."""
    global _system
    if settings.redis_url is None:
        raise SettingsError("GOAT_REDIS_URL is required: it is where the worker takes jobs")
    system = build_system(settings, relay_jobs=False)
    with _lock:
        _system = system
    # what was built at start lives as long as the process: out of the collector's way,
    # so that a job that reads thousands of rows is not slowed by sweeps over all of it
    gc.freeze()
    connection = redis_from_url(settings.redis_url)
    try:
        log.info("working queues %s on %s", ", ".join(queues), settings.redis_url)
        return run_worker(
            connection,
            queues,
            abandoned_grace=abandoned_grace,
            maintenance_interval=maintenance_interval,
            burst=burst,
        )
    finally:
        with _lock:
            _system = None
        connection.close()
        system.close()
