"""``goat worker``'s metrics port (``GOAT_WORKER_PORT``) scraped while it runs jobs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from goat_adapters.rq import RqJobQueue, redis_from_url
from goat_app.compose import JOB_FUNCTION
from goat_core.jobs import Recommend
from tests.integration.http.support import free_port
from tests.servers.redis import WorkerProcess
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the worker's ``/metrics``, by name and sorted labels."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def answers(url: str) -> bool:
    try:
        return bool(httpx.get(f"{url}/health", timeout=2).json() == {"status": "ok"})
    except (httpx.TransportError, ValueError):
        return False


def scraped_after_one_job(
    redis_url: str, database_url: str, log: Path
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Start ``goat worker`` with a metrics port, run one Recommend job, scrape the port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    queue = RqJobQueue(redis_from_url(redis_url), function=JOB_FUNCTION, retries=())
    worker = WorkerProcess.goat(
        redis_url, log, GOAT_DATABASE_URL=database_url, GOAT_WORKER_PORT=str(port)
    )
    try:
        wait_until(lambda: answers(url), timeout=30, what=f"the port:\n{worker.output()}")
        before = samples(url)
        assert not [key for key in before if key[0] == "goat_worker_jobs_total"]
        job_id = queue.enqueue(Recommend("auth0|alice"))
        wait_until(
            lambda: queue.report(job_id).status in ("finished", "failed"),
            timeout=30,
            what=f"the job to run; worker log:\n{worker.output()}",
        )
        wait_until(
            lambda: any(key[0] == "goat_worker_jobs_total" for key in samples(url)),
            timeout=10,
            what="the job to be counted",
        )
        return samples(url)
    finally:
        worker.stop()
        queue.close()


def test_the_worker_port_counts_a_job_done_and_its_time(
    redis_url: str, fresh_database_url: str, tmp_path: Path
) -> None:
    """A job run by `goat worker` moves its done counter and its duration histogram."""
    scraped = scraped_after_one_job(redis_url, fresh_database_url, tmp_path / "worker.log")
    done = {
        labels: value
        for (name, labels), value in scraped.items()
        if name == "goat_worker_jobs_total"
    }
    assert list(done.values()) == [1.0]
    ((labels, _),) = done.items()
    kind = dict(labels)["kind"]
    assert dict(labels)["outcome"] == "done"
    assert scraped[("goat_worker_job_duration_seconds_count", (("kind", kind),))] == 1.0
    assert scraped[("goat_worker_job_duration_seconds_sum", (("kind", kind),))] > 0


def test_the_worker_port_counts_a_failed_job(
    redis_url: str, empty_database_url: str, tmp_path: Path
) -> None:
    """A job that fails in `goat worker` (no tables) is counted as failed by kind."""
    scraped = scraped_after_one_job(redis_url, empty_database_url, tmp_path / "worker.log")
    outcomes = [
        dict(labels)["outcome"]
        for (name, labels), value in scraped.items()
        if name == "goat_worker_jobs_total" and value == 1.0
    ]
    assert outcomes == ["failed"]
