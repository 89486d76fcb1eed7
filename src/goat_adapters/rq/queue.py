"""``RqJobQueue``: goat's typed jobs on rq and Redis, for any number of ``goat worker``.

A job travels as ``function(kind, **fields)`` (``specs``), JSON-serialized, on one rq
queue. Each job gets a new id (``recommend-<hex>``); folding equal jobs is done by a
*waiting pointer*, a Redis key derived from the spec (``goat:jobs:waiting:recommend:
{"user_id": ...}``) that names the job still waiting for it. ``enqueue`` claims the key
(``SET NX``) or answers the id it names; the worker releases it as the job starts
(``take``), because from then on an equal job must run again: it may see newer data. An
id derived from the spec alone would not do: rq overwrites a job saved under an existing
id, and the next job of a user may be queued while the previous one runs.

Failures retry with backoff (``Retry(max=3, interval=[1, 5, 30])``, honoured by the
worker's scheduler) and then stay in rq's ``FailedJobRegistry`` (``rq info``). A job whose
worker died is found by a later worker's maintenance and retried like a failure. Every
Redis error leaves as ``Unavailable``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs
import redis
from rq import Queue, Retry, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job as RqJob
from rq.queue import EnqueueData
from rq.serializers import JSONSerializer

from goat_adapters.rq.specs import job_from, spec_of
from goat_core.errors import NotFound, Unavailable
from goat_core.jobs import Job

__all__ = [
    "DEFAULT_QUEUE",
    "SERIALIZER",
    "JobReport",
    "RqJobQueue",
    "redis_from_url",
    "take",
]

DEFAULT_QUEUE = "goat"
SERIALIZER = JSONSerializer
"""What every queue and worker of goat reads and writes jobs with: no pickles in Redis."""
WAITING_PREFIX = "goat:jobs:waiting:"

_WAITING = frozenset({"queued", "scheduled", "deferred", "created", "started"})
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""  # compare-and-delete: only the job a pointer names may release it


@attrs.frozen
class JobReport:
    """What the jobs service tells about one job: no traceback, no internals."""

    job_id: str
    status: str
    """``queued`` (also while waiting to retry), ``started``, ``finished`` or ``failed``."""
    result: object = None
    error: str | None = None
    """Why it failed: the last line of the error (``RuntimeError: ...``)."""


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as error:
        raise Unavailable(f"Redis: {type(error).__name__}: {error}") from error


def redis_from_url(url: str, *, connect_timeout: float = 1.0, timeout: float = 5.0) -> redis.Redis:
    """A client for ``url`` that gives up instead of hanging; it connects on first use.

    The connect timeout is short: a purchase's follow-up job must not hold its caller long
    when Redis is unreachable (the job is reported as not queued).
    """
    return redis.Redis.from_url(url, socket_connect_timeout=connect_timeout, socket_timeout=timeout)


def waiting_key(kind: str, fields: Mapping[str, object]) -> str:
    """The key naming the job still waiting for this spec, if any."""
    return WAITING_PREFIX + kind + ":" + json.dumps(dict(fields), sort_keys=True)


class RqJobQueue:
    """A ``ports.JobQueue`` on rq: jobs run by ``goat worker`` processes on one Redis.

    ``function`` is the dotted name of the worker's entry point, called as
    ``function(kind, **fields)`` (``goat_app.worker.run``).
    """

    def __init__(
        self,
        connection: redis.Redis,
        *,
        function: str,
        queue: str = DEFAULT_QUEUE,
        retries: Sequence[int] = (1, 5, 30),
        job_timeout: int = 60,
        result_ttl: int = 24 * 3600,
        failure_ttl: int = 7 * 24 * 3600,
    ) -> None:
        self.connection = connection
        self.function = function
        self.queue = Queue(queue, connection=connection, serializer=SERIALIZER)
        self.retries = tuple(retries)
        self.job_timeout = job_timeout
        self.result_ttl = result_ttl
        self.failure_ttl = failure_ttl
        self._release = connection.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, *, function: str, **options: Any) -> RqJobQueue:
        """A queue on the Redis at ``url`` (connects on first use)."""
        return cls(redis_from_url(url), function=function, **options)

    def enqueue(self, job: Job) -> str:
        kind, fields = spec_of(job)
        key = waiting_key(kind, fields)
        with _translated():
            for _ in range(3):
                job_id = f"{kind}-{uuid.uuid4().hex}"
                if self.connection.set(key, job_id, nx=True, ex=self.failure_ttl):
                    try:
                        self._push(job_id, kind, fields)
                    except BaseException:
                        self._release(keys=[key], args=[job_id])
                        raise
                    return job_id
                waiting = self.connection.get(key)
                if waiting is None:
                    continue  # released meanwhile: claim it again
                waiting_id = waiting.decode() if isinstance(waiting, bytes) else str(waiting)
                if self._status(waiting_id) in _WAITING:
                    return waiting_id
                # the job it names is gone or done without releasing it: forget it
                self._release(keys=[key], args=[waiting_id])
            # still contended after three tries: a second equal job is harmless
            job_id = f"{kind}-{uuid.uuid4().hex}"
            self._push(job_id, kind, fields)
            return job_id

    def enqueue_many(self, jobs: Sequence[Job]) -> list[str]:
        """As ``enqueue`` for each job, in two round trips for the jobs nobody waits for.

        One pipeline claims every waiting pointer, a second pushes the jobs it claimed;
        a job whose pointer was taken goes the careful way of ``enqueue``.
        """
        specs = [spec_of(job) for job in jobs]
        ids = [f"{kind}-{uuid.uuid4().hex}" for kind, _ in specs]
        keys = [waiting_key(kind, fields) for kind, fields in specs]
        with _translated():
            claims = self.connection.pipeline(transaction=False)
            for key, job_id in zip(keys, ids, strict=True):
                claims.set(key, job_id, nx=True, ex=self.failure_ttl)
            claimed = [bool(answer) for answer in claims.execute()]
            pushes = self.connection.pipeline()
            self.queue.enqueue_many(
                [
                    self._data(job_id, kind, fields)
                    for job_id, (kind, fields), mine in zip(ids, specs, claimed, strict=True)
                    if mine
                ],
                pipeline=pushes,
            )
            try:
                pushes.execute()
            except BaseException:
                for key, job_id, mine in zip(keys, ids, claimed, strict=True):
                    if mine:
                        self._release(keys=[key], args=[job_id])
                raise
            return [
                job_id if mine else self.enqueue(job)
                for job, job_id, mine in zip(jobs, ids, claimed, strict=True)
            ]

    def report(self, job_id: str) -> JobReport:
        """The state of one job; ``NotFound`` if Redis does not know it (or forgot it)."""
        with _translated():
            try:
                found = RqJob.fetch(job_id, connection=self.connection, serializer=SERIALIZER)
            except NoSuchJobError:
                raise NotFound(f"job {job_id} is unknown") from None
            status = found.get_status(refresh=False)
            state = status.value if status is not None else "queued"
            if state == "finished":
                return JobReport(job_id, "finished", found.return_value())
            if state in ("failed", "stopped", "canceled"):
                latest = found.latest_result()
                why = latest.exc_string if latest is not None else None
                return JobReport(job_id, "failed", error=_why(why, state))
            return JobReport(job_id, "started" if state == "started" else "queued")

    def available(self) -> bool:
        """Whether Redis answers now."""
        try:
            return bool(self.connection.ping())
        except redis.RedisError:
            return False

    def sizes(self) -> dict[str, int]:
        """How many jobs are ``queued``, ``started`` and ``failed`` (kept in rq's failed
        registry) now, for metrics; raises ``Unavailable`` if Redis does not answer."""
        with _translated():
            return {
                "queued": self.queue.count,
                "started": self.queue.started_job_registry.count,
                "failed": self.queue.failed_job_registry.count,
            }

    def close(self) -> None:
        """Release the connections."""
        self.connection.close()

    def _push(self, job_id: str, kind: str, fields: dict[str, str]) -> None:
        self.queue.enqueue_many([self._data(job_id, kind, fields)])

    def _data(self, job_id: str, kind: str, fields: dict[str, str]) -> EnqueueData:
        retry = Retry(max=len(self.retries), interval=list(self.retries)) if self.retries else None
        return Queue.prepare_data(
            self.function,
            args=(kind,),
            kwargs=fields,
            job_id=job_id,
            timeout=self.job_timeout,
            result_ttl=self.result_ttl,
            failure_ttl=self.failure_ttl,
            retry=retry,
            description=f"{kind} {json.dumps(fields, sort_keys=True)}",
        )

    def _status(self, job_id: str) -> str | None:
        try:
            found = RqJob.fetch(job_id, connection=self.connection, serializer=SERIALIZER)
        except NoSuchJobError:
            return None
        status = found.get_status(refresh=False)
        return status.value if status is not None else None


def _why(exc_info: str | None, state: str) -> str:
    """The last line of a traceback (``KeyError: 'x'``), or what happened to the job."""
    lines = [line.strip() for line in (exc_info or "").splitlines() if line.strip()]
    if not lines:
        return f"the job was {state}"
    # "goat_core.errors.Unavailable: ..." reads "Unavailable: ..."
    return re.sub(r"^(?:\w+\.)+(\w+:)", r"\1", lines[-1])


def take(kind: str, fields: Mapping[str, object]) -> Job:
    """In a worker: the job rq handed us, its waiting pointer released first.

    Called at the start of every job, before it reads anything, so that a job equal to
    this one queued from now on runs again and sees what this one could not.
    """
    job = job_from(kind, fields)
    current = get_current_job()
    if current is not None:
        with _translated():
            current.connection.register_script(_RELEASE)(
                keys=[waiting_key(kind, fields)], args=[current.id]
            )
    return job
