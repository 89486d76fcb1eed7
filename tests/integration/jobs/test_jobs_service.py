"""The jobs service (``goat jobs``) over a real Redis, and the API's probe of it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from goat_adapters.memory import InMemoryStore
from goat_adapters.rq import RqJobQueue, redis_from_url
from goat_app.compose import JOB_FUNCTION, Overrides, build_system, jobs_service_answers
from goat_app.jobs_service import create_jobs_app
from goat_app.settings import Settings
from tests.servers.mqtt import free_port, wait_listening
from tests.servers.redis import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def client(redis_url: str) -> Iterator[TestClient]:  # type: ignore[type-arg]
    """The jobs app in-process over the test Redis (no worker: jobs stay queued)."""
    queue = RqJobQueue(redis_from_url(redis_url), function=JOB_FUNCTION)
    with TestClient(create_jobs_app(queue)) as test_client:
        yield test_client
    queue.close()


def test_a_job_posted_is_queued_and_can_be_followed(client: TestClient) -> None:  # type: ignore[type-arg]
    """POST /job answers 201 with an id that GET /job/{id} reports as queued."""
    created = client.post("/job", json={"job": "recommend", "user_id": "auth0|alice"})

    assert created.status_code == 201
    job_id = created.json()["job_id"]
    state = client.get(f"/job/{job_id}")
    assert state.status_code == 200
    assert state.json() == {"job_id": job_id, "status": "queued", "result": None, "error": None}


def test_the_arguments_form_and_an_equal_job_answer_the_same_id(client: TestClient) -> None:  # type: ignore[type-arg]
    """CONTRACT §5's {"job", "arguments"} form queues the same job; an equal one folds into it."""
    flat = client.post("/job", json={"job": "receipt", "request_id": "r-1"})
    nested = client.post("/job", json={"job": "receipt", "arguments": {"request_id": "r-1"}})

    assert (flat.status_code, nested.status_code) == (201, 201)
    assert flat.json() == nested.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"job": "mine-bitcoin", "user_id": "a"}, "job"),
        ({"user_id": "a"}, "job"),
        ({"job": "recommend"}, "user_id"),
        ({"job": "recommend", "user_id": ""}, "user_id"),
        ({"job": "recommend", "user_id": 7}, "user_id"),
        ({"job": "recommend", "user_id": "a", "extra": 1}, "extra"),
        ({"job": "recommend", "arguments": {"user": "a"}}, "arguments.user"),
        ({"job": "recommend", "arguments": []}, "arguments"),
    ],
)
def test_a_bad_job_or_argument_is_a_422_problem_naming_it(
    client: TestClient,  # type: ignore[type-arg]
    body: dict[str, object],
    field: str,
) -> None:
    """A wrong job name or argument is refused with a 422 problem whose field names it."""
    answer = client.post("/job", json=body)

    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["field"] == field


def test_an_unknown_job_is_404_and_the_heartbeat_is_true(client: TestClient) -> None:  # type: ignore[type-arg]
    """GET /job/{id} of a job Redis never saw is 404; GET /heartbeat answers true."""
    assert client.get("/job/recommend-nope").status_code == 404
    assert client.get("/heartbeat").json() is True
    assert "/job" in client.get("/schema/openapi.json").json()["paths"]


def test_redis_down_is_a_503_problem() -> None:
    """With Redis unreachable, POST /job answers 503 rather than hanging or crashing."""
    queue = RqJobQueue(redis_from_url(f"redis://127.0.0.1:{free_port()}/0"), function=JOB_FUNCTION)
    with TestClient(create_jobs_app(queue)) as client:
        answer = client.post("/job", json={"job": "recommend", "user_id": "a"})

    assert answer.status_code == 503


def test_the_api_reports_whether_the_jobs_service_answers(redis_url: str, tmp_path: Path) -> None:
    """System.jobs_available (GET /workers/heartbeat) is true while `goat jobs` answers."""
    port = free_port()
    jobs_url = f"http://127.0.0.1:{port}"
    settings = Settings(data_dir=tmp_path, redis_url=redis_url, jobs_url=jobs_url)
    system = build_system(settings, overrides=Overrides(uow=InMemoryStore().unit_of_work))
    service = subprocess.Popen(
        [sys.executable, "-m", "goat_app.cli", "jobs", "--port", str(port)],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "GOAT_REDIS_URL": redis_url, "GOAT_DATA_DIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert not system.jobs_available()
        wait_listening("127.0.0.1", port, timeout=20)
        assert system.jobs_available()
    finally:
        service.terminate()
        service.wait(10)
        system.close()
    assert not jobs_service_answers(jobs_url, timeout=0.5)
