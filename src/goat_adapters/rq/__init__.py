"""Jobs on rq and Redis: the ``JobQueue`` adapter and the worker ``goat worker`` runs."""

from goat_adapters.rq.queue import (
    DEFAULT_QUEUE,
    SERIALIZER,
    JobReport,
    RqJobQueue,
    redis_from_url,
    take,
)
from goat_adapters.rq.specs import KINDS, job_from, spec_of
from goat_adapters.rq.worker import GoatWorker, run_worker

__all__ = [
    "DEFAULT_QUEUE",
    "KINDS",
    "SERIALIZER",
    "GoatWorker",
    "JobReport",
    "RqJobQueue",
    "job_from",
    "redis_from_url",
    "run_worker",
    "spec_of",
    "take",
]
