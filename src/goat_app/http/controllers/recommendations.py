"""``/recommendations`` and ``/workers``: what the background jobs compute, and whether they run."""

from __future__ import annotations

from litestar import Controller, get, post

from goat_app.http.common import (
    AUTH_PROBLEMS,
    BEARER,
    ExchangeDep,
    IdentityDep,
    SystemDep,
    problems,
)
from goat_app.http.schemas import (
    HeartbeatOut,
    JobOut,
    RecommendationOut,
    RecommendationsOut,
    fixture_out,
)

__all__ = ["JobsController", "RecommendationsController"]


class RecommendationsController(Controller):
    path = "/recommendations"
    tags = ["recommendations"]  # noqa: RUF012  # Litestar reads it as a class attribute
    security = BEARER  # Litestar reads it as a class attribute

    @post(
        "/",
        status_code=202,
        sync_to_thread=False,
        responses=problems(*AUTH_PROBLEMS, 503),
        operation_id="requestRecommendations",
        summary="Recompute recommendations",
    )
    def recommend(self, exchange: ExchangeDep, identity: IdentityDep) -> JobOut:
        """Queue a recomputation of the caller's recommendations."""
        return JobOut(exchange.request_recommendations(identity.user_id))

    @get(
        "/",
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS),
        operation_id="getRecommendations",
        summary="Get the caller's recommendations",
    )
    def recommendations(self, exchange: ExchangeDep, identity: IdentityDep) -> RecommendationsOut:
        """The caller's last computed recommendations, best first."""
        found = exchange.recommendations(identity.user_id)
        return RecommendationsOut(
            found.updated_at,
            [RecommendationOut(fixture_out(f), float(pond)) for f, pond in found.items],
        )


class JobsController(Controller):
    path = "/workers"
    tags = ["operations"]  # noqa: RUF012  # Litestar reads it as a class attribute

    @get(
        "/heartbeat",
        sync_to_thread=True,  # asking the jobs service may wait up to its timeout
        operation_id="getWorkersHeartbeat",
        summary="Whether the jobs service answers",
    )
    def heartbeat(self, system: SystemDep) -> HeartbeatOut:
        """Whether the jobs service answers."""
        return HeartbeatOut(system.jobs_available())
