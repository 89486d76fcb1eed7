"""``ports.JobOutbox`` on the ``job_outbox`` table.

A job is stored as its kind (the spec's class name, ``Recommend``) and its fields as
JSON; any job of ``goat_core.jobs.Job`` reads back as itself. Only the unsent rows are
indexed (``ix_job_outbox_unsent``), so the relay's look stays cheap as the table grows.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Collection

import attrs
import sqlalchemy as sa

from goat_adapters.sql import tables as t
from goat_adapters.sql.statements import (
    Batch,
    Statement,
    Transaction,
    mark_sent,
    unnest_insert,
    unsent,
)
from goat_core.jobs import Job
from goat_core.ports import PendingJob

__all__ = ["ADD_JOB", "SqlJobOutbox", "job_values"]

_KINDS: dict[str, type[Job]] = {spec.__name__: spec for spec in typing.get_args(Job)}

ADD_JOB = Statement(
    sa.insert(t.job_outbox)
    .values(kind=sa.bindparam("kind"), fields=sa.bindparam("fields"))
    .inline()
)
"""Queue a job (``kind``, ``fields``) for the job relay."""
ADD_JOBS = unnest_insert(t.job_outbox, columns=("kind", "fields"))
"""``ADD_JOB`` for many jobs in one statement (PostgreSQL)."""
_J = t.job_outbox.c
_PENDING = unsent(t.job_outbox, _J.id, _J.kind, _J.fields)
_MARK_SENT = mark_sent(t.job_outbox)


def job_values(job: Job) -> dict[str, str]:
    """The row of ``job``: its kind and its fields as JSON."""
    return {"kind": type(job).__name__, "fields": json.dumps(attrs.asdict(job), sort_keys=True)}


def _job(kind: str, fields: str) -> Job:
    return _KINDS[kind](**json.loads(fields))


class SqlJobOutbox:
    """``ports.JobOutbox`` on the ``job_outbox`` table."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def add(self, *jobs: Job) -> None:
        """Queue these jobs (one statement for all) to hand over after the commit."""
        if len(jobs) == 1:
            self._tx.run(ADD_JOB, job_values(jobs[0]))
        elif jobs:
            self._tx.run_many(
                [Batch(ADD_JOB, [job_values(job) for job in jobs], together=ADD_JOBS)]
            )

    def pending(self, limit: int) -> list[PendingJob]:
        """Jobs not handed over yet, oldest first."""
        rows = self._tx.run(_PENDING, {"limit": limit}).rows
        return [PendingJob(row.id, _job(row.kind, row.fields)) for row in rows]

    def mark_sent(self, ids: Collection[int]) -> None:
        """The job queue took these; never hand them out again."""
        if ids:
            self._tx.run(_MARK_SENT, {"ids": sorted(ids)})

    def backlog(self) -> int:
        """How many jobs wait to be handed over."""
        j = t.job_outbox
        return int(
            self._tx.execute(
                sa.select(sa.func.count()).select_from(j).where(j.c.sent_at.is_(None))
            ).scalar_one()
        )
