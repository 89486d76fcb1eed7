"""``goat jobs``: the jobs service ("JobsMaster", CONTRACT §5), a small HTTP app over rq.

- ``POST /job`` ``{"job": "recommend", "user_id": "..."}`` (or ``{"job": ..., "arguments":
  {...}}``) → 201 ``{"job_id"}``; a job equal to one still waiting answers that one's id.
- ``GET /job/{id}`` → ``{"job_id", "status", "result", "error"}``: ``queued`` (also while
  waiting to retry), ``started``, ``finished`` or ``failed`` (``error`` says why, in one
  line); 404 if unknown.
- ``GET /heartbeat`` → ``true``.
- ``GET /metrics`` → the queue's jobs by state, in Prometheus' text format.

Errors are the API's RFC 9457 problems: a bad job name or argument is a 422 naming the
field, Redis down a 503. OpenAPI at ``/schema``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar, Response, get, post
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.params import FromPath, JSONBody
from prometheus_client import CollectorRegistry

from goat_adapters.rq import RqJobQueue, job_from
from goat_app.http.errors import EXCEPTION_HANDLERS
from goat_app.metrics import CONTENT_TYPE, JobQueueCollector, render
from goat_core.errors import InvalidInput
from goat_core.jobs import Job

__all__ = ["JobCreatedOut", "JobOut", "create_jobs_app", "parse_job"]


class JobCreatedOut(msgspec.Struct):
    """The id of the job queued (or of the equal one already waiting)."""

    job_id: str


class JobOut(msgspec.Struct):
    """One job's state; ``error`` says why a failed job failed, without internals."""

    job_id: str
    status: str
    result: Any = None
    error: str | None = None


def parse_job(body: object) -> Job:
    """The job a ``POST /job`` body asks for; ``InvalidInput`` names the wrong field."""
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be a JSON object")
    if "arguments" in body:
        arguments = body["arguments"]
        if not isinstance(arguments, dict) or set(body) - {"job", "arguments"}:
            raise InvalidInput("arguments", "must be an object holding every argument")
        return job_from(body.get("job"), arguments, prefix="arguments.")
    return job_from(body.get("job"), {k: v for k, v in body.items() if k != "job"})


def create_jobs_app(queue: RqJobQueue, *, on_shutdown: list[Any] | None = None) -> Litestar:
    """The jobs service over ``queue``; ``on_shutdown`` runs when the app stops."""

    @post("/job", status_code=201, sync_to_thread=True, tags=["jobs"])
    def create_job(data: JSONBody[dict[str, Any]]) -> JobCreatedOut:
        """Queue a job: ``{"job": "recommend", "user_id": ...}`` (or receipt, request_id)."""
        return JobCreatedOut(queue.enqueue(parse_job(data)))

    @get("/job/{job_id:str}", sync_to_thread=True, tags=["jobs"])
    def job_state(job_id: FromPath[str]) -> JobOut:
        """A job's status and result; 404 if unknown (or forgotten after its time to live)."""
        report = queue.report(job_id)
        return JobOut(report.job_id, report.status, report.result, report.error)

    @get("/heartbeat", sync_to_thread=False, tags=["operations"])
    def heartbeat() -> bool:
        """The service answers."""
        return True

    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobQueueCollector(queue))

    @get("/metrics", sync_to_thread=True, include_in_schema=False)
    def metrics() -> Response[bytes]:
        """The queue's jobs by state (Prometheus text)."""
        return Response(render(registry), media_type=CONTENT_TYPE)

    return Litestar(
        route_handlers=[create_job, job_state, heartbeat, metrics],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(
            title="goat jobs service",
            version="1.0.0",
            description="Queue goat's background jobs and follow them. Errors are RFC 9457.",
            path="/schema",
            use_handler_docstrings=True,
            render_plugins=[JsonRenderPlugin()],
        ),
        on_shutdown=on_shutdown or [],
        debug=False,
    )
