"""The rq worker of ``goat worker``: jobs run in the worker's own process, no fork.

rq's default ``Worker`` forks a child for every job, which would rebuild goat (database
pools, clients) for each one or share sockets across a fork; goat's jobs are short, so
``GoatWorker`` is rq's ``SimpleWorker``: the system is built once per worker process and
every job runs in it, bounded by its ``job_timeout``.

A worker that dies mid-job (SIGKILL, a lost machine) leaves the job in rq's started
registry with a deadline of ``job_timeout + abandoned_grace`` seconds; the maintenance of
any other worker (every ``maintenance_interval`` seconds) then retries it, or fails it
once its retries are spent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from rq import SimpleWorker
from rq.job import Job as RqJob

from goat_adapters.rq.queue import DEFAULT_QUEUE, SERIALIZER

__all__ = ["GoatWorker", "run_worker"]


class GoatWorker(SimpleWorker):
    """rq's in-process worker, with a configurable grace before a job counts as abandoned."""

    abandoned_grace = 60
    log_result_lifespan = False  # every job's result lives as long: said once, in the docs

    def get_heartbeat_ttl(self, job: RqJob, working_time: float = 0.0) -> int:
        if job.timeout is None or job.timeout < 0:
            return super().get_heartbeat_ttl(job, working_time)
        return int(job.timeout) + self.abandoned_grace


def run_worker(
    connection: redis.Redis,
    queues: Sequence[str] = (DEFAULT_QUEUE,),
    *,
    abandoned_grace: int = 60,
    maintenance_interval: int = 60,
    burst: bool = False,
    **options: Any,
) -> bool:
    """Work ``queues`` until stopped (SIGTERM: finish the current job, then leave).

    The scheduler runs too, so retries wait their backoff. ``maintenance_interval`` is
    also the longest an idle worker waits before looking for abandoned jobs.
    """
    worker = GoatWorker(
        list(queues),
        connection=connection,
        serializer=SERIALIZER,
        maintenance_interval=maintenance_interval,
        # rq blocks on the queue for worker_ttl - 15 seconds between maintenance checks
        worker_ttl=max(maintenance_interval + 15, 16),
        **options,
    )
    worker.abandoned_grace = abandoned_grace
    return bool(worker.work(burst=burst, with_scheduler=True))
