"""Jobs run inside the process, for ``goat serve`` and an API without a jobs service.

A single worker thread takes jobs from a queue and hands each to ``run`` (the exchange's
``run_job``). Jobs are safe to run twice (CONTRACT §5), so a job lost with the process is
recomputed on the next request that needs it, and a job equal to one still waiting is
not queued again: a burst of purchases by one user costs one recomputation, not many.
``delay`` holds each job back that long after it was queued, so that such bursts fold.
A job that fails is tried again after each of ``retry_delays`` (an SMTP or S3 outage
delays its mail or receipt, as with rq's retries under ``goat worker``), then given up.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from goat_core.errors import Unavailable
from goat_core.jobs import Job

__all__ = ["RETRY_DELAYS", "InProcessJobQueue"]

log = logging.getLogger("goat.jobs")

RETRY_DELAYS = (1.0, 5.0, 30.0)
"""Seconds before each new try of a failed job, as rq's ``Retry`` in ``goat worker``."""


class InProcessJobQueue:
    """A ``ports.JobQueue`` served by one daemon worker thread of this process."""

    def __init__(
        self,
        run: Callable[[Job], object],
        delay: float = 0.0,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self._run = run
        self.delay = delay
        self.retry_delays = tuple(retry_delays)
        # (job id, job, when it is due, how many times it failed before)
        self._queue: queue.Queue[tuple[str, Job, float, int] | None] = queue.Queue()
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._waiting: dict[Job, str] = {}
        self.done: dict[str, str] = {}  # job id -> "finished" or "failed", for inspection

    def start(self) -> InProcessJobQueue:
        """Start the worker thread (once)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="goat-jobs", daemon=True)
                self._thread.start()
        return self

    def stop(self, timeout: float = 5) -> None:
        """Let the worker finish the queued jobs, then end it."""
        with self._lock:
            thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout)

    @property
    def available(self) -> bool:
        """Whether the worker thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def enqueue(self, job: Job) -> str:
        if not self.available:
            raise Unavailable("the in-process job worker is not running")
        with self._lock:
            waiting = self._waiting.get(job)
            if waiting is not None:
                return waiting
            job_id = f"local-{next(self._ids)}"
            self._waiting[job] = job_id
        self._queue.put((job_id, job, time.monotonic() + self.delay, 0))
        return job_id

    def enqueue_many(self, jobs: Sequence[Job]) -> list[str]:
        return [self.enqueue(job) for job in jobs]

    def join(self) -> None:
        """Wait until every queued job has run (for tests and shutdown)."""
        self._queue.join()

    def _finish(self, job_id: str, state: str) -> None:
        if len(self.done) > 10_000:  # a window for inspection, not a history
            self.done.clear()
        self.done[job_id] = state

    def _failed(self, job_id: str, job: Job, failures: int) -> None:
        """Run a failed job again after its backoff, or give up after the last one."""
        if failures >= len(self.retry_delays):
            log.exception("job %s (%s) failed %d times: given up", job_id, job, failures + 1)
            self._finish(job_id, "failed")
            return
        wait = self.retry_delays[failures]
        log.warning("job %s (%s) failed; again in %s s", job_id, job, wait, exc_info=True)
        # a timer, so that the backoff does not hold up the jobs queued behind this one
        retry = (job_id, job, time.monotonic(), failures + 1)
        timer = threading.Timer(wait, self._queue.put, args=(retry,))
        timer.daemon = True
        timer.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                job_id, job, due, failures = item
                time.sleep(max(0.0, due - time.monotonic()))
                with self._lock:
                    # from now on an equal job must run again: it may see newer data
                    self._waiting.pop(job, None)
                try:
                    self._run(job)
                    self._finish(job_id, "finished")
                except Exception:
                    # a failed job must not kill the worker; it is safe to run again
                    self._failed(job_id, job, failures)
            finally:
                self._queue.task_done()
