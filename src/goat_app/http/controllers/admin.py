"""``/admin``: what only a goat:admin may see."""

from __future__ import annotations

from litestar import Controller, get

from goat_app.http.common import (
    AUTH_PROBLEMS,
    BEARER,
    MAX_COUNT,
    Count,
    ExchangeDep,
    IdentityDep,
    Page,
    problems,
)
from goat_app.http.schemas import DeadLetterPageOut, dead_letter_out

__all__ = ["AdminController"]


class AdminController(Controller):
    path = "/admin"
    tags = ["admin"]  # noqa: RUF012  # Litestar reads it as a class attribute
    security = BEARER  # Litestar reads it as a class attribute

    @get(
        "/dead-letters",
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 403),
        operation_id="listDeadLetters",
        summary="List dead letters (admins)",
    )
    def dead_letters(
        self, exchange: ExchangeDep, identity: IdentityDep, page: Page = 1, count: Count = MAX_COUNT
    ) -> DeadLetterPageOut:
        """Broker messages that could not be applied, newest first (admins)."""
        found = exchange.dead_letters(identity.viewer, page, count)
        return DeadLetterPageOut(
            [dead_letter_out(d) for d in found.items], found.total, page, count
        )
