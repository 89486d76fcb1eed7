"""``/health`` and ``/ready``: probes for whoever runs goat."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.openapi.datastructures import ResponseSpec

from goat_app.http.common import ExchangeDep, SystemDep
from goat_app.http.schemas import HealthOut, ReadyOut

__all__ = ["OperationsController"]


class OperationsController(Controller):
    path = "/"
    tags = ["operations"]  # noqa: RUF012  # Litestar reads it as a class attribute

    @get(
        "/health",
        sync_to_thread=False,
        operation_id="getHealth",
        summary="Whether the process answers",
    )
    def health(self) -> HealthOut:
        """Liveness: the process answers."""
        return HealthOut("ok")

    @get(
        "/ready",
        sync_to_thread=True,
        responses={503: ResponseSpec(data_container=ReadyOut, description="not ready")},
        operation_id="getReadiness",
        summary="Readiness of each dependency",
    )
    def ready(self, exchange: ExchangeDep, system: SystemDep) -> Response[ReadyOut]:
        """Readiness: each dependency (database, broker, jobs) and its state.

        Ready means the database answers: a broker or job queue that is down only delays
        what the outboxes keep.
        """
        try:
            backlog: int | None = exchange.outbox_backlog()
            database = f"up ({system.database_kind})"
        except Exception as error:  # any failure means not ready; the reason is shown
            backlog = None
            database = f"down: {type(error).__name__}"
        broker = system.broker_state()
        if backlog is not None:
            broker = f"{broker}; outbox backlog {backlog}"
        # a job queue that is down only delays jobs (the job outbox keeps them): it is
        # shown, not a reason to take this process out of service
        jobs = f"{'up' if system.jobs_available() else 'down'} ({system.jobs_kind})"
        if backlog is not None:
            jobs = f"{jobs}; job outbox backlog {exchange.jobs_backlog()}"
        is_ready = database.startswith("up")
        body = ReadyOut(is_ready, {"database": database, "broker": broker, "jobs": jobs})
        return Response(body, status_code=200 if is_ready else 503)
