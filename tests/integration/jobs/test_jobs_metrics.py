"""The jobs service's ``GET /metrics``: the rq queue's jobs by state, for Prometheus."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from goat_adapters.rq import RqJobQueue, redis_from_url
from goat_app.compose import JOB_FUNCTION
from goat_app.jobs_service import create_jobs_app

pytestmark = pytest.mark.integration


def queued(text: str) -> float:
    """The ``goat_jobs{state="queued"}`` gauge of a scrape."""
    return next(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "goat_jobs" and sample.labels == {"state": "queued"}
    )


def test_metrics_count_the_jobs_waiting_on_the_queue(redis_url: str) -> None:
    """A job posted and not yet run shows as one more queued job on /metrics."""
    queue = RqJobQueue(redis_from_url(redis_url), function=JOB_FUNCTION)
    try:
        with TestClient(create_jobs_app(queue)) as client:
            before = client.get("/metrics")
            assert before.status_code == 200
            assert "goat_redis_up 1.0" in before.text
            created = client.post("/job", json={"job": "recommend", "user_id": "auth0|metrics"})
            assert created.status_code == 201
            after = client.get("/metrics").text
            assert queued(after) == queued(before.text) + 1
    finally:
        queue.close()
