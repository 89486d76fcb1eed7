"""What every use case runs over: the ports shared by all concerns, and the rules."""

from __future__ import annotations

import logging

import attrs

from goat_core.errors import GoatError
from goat_core.jobs import Job
from goat_core.model import Rules
from goat_core.ports import Clock, IdGenerator, JobQueue, UnitOfWorkFactory

__all__ = ["Context"]

log = logging.getLogger("goat.core")


@attrs.frozen
class Context:
    """The shared ports of one exchange: transactions, time, ids, jobs, and the rules."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    jobs: JobQueue
    rules: Rules

    def follow_up(self, job: Job) -> None:
        """Queue a job after a commit; an unreachable queue is reported, not raised.

        What called for it is committed and safe, and a missing follow-up is recoverable
        (recommendations on demand, receipts on request).
        """
        try:
            self.jobs.enqueue(job)
        except GoatError as error:
            log.error("could not queue %s: %s", job, error)
