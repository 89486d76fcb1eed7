"""``/fixtures``: the fixtures on sale, for anyone."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import Parameter, QueryParameter

from goat_app.http.cache import TtlCache
from goat_app.http.common import MAX_COUNT, Count, ExchangeDep, Page, problems
from goat_app.http.schemas import FixtureOut, FixturePageOut, fixture_out
from goat_core.model import FixtureStage

__all__ = ["FixturesController"]


class FixturesController(Controller):
    path = "/fixtures"
    tags = ["fixtures"]  # noqa: RUF012  # Litestar reads it as a class attribute

    @get(
        "/",
        sync_to_thread=True,
        responses=problems(400),
        operation_id="listFixtures",
        summary="List fixtures, on sale first",
    )
    def list_fixtures(
        self,
        exchange: ExchangeDep,
        state: State,
        page: Page = 1,
        count: Count = MAX_COUNT,
        home: Annotated[str | None, QueryParameter(description="home team name contains")] = None,
        away: Annotated[str | None, QueryParameter(description="away team name contains")] = None,
        date: Annotated[
            dt.date | None, QueryParameter(description="kick-off day, YYYY-MM-DD")
        ] = None,
        status: Annotated[
            FixtureStage | None,
            QueryParameter(description="only upcoming (on sale), live or finished fixtures"),
        ] = None,
    ) -> FixturePageOut:
        """Fixtures that can still be bought first, by kick-off; then the rest, latest first.

        ``status`` keeps only upcoming, live or finished fixtures; without it, any other
        filter keeps only fixtures not yet started. Pages may be up to
        ``GOAT_FIXTURES_CACHE_MS`` old (one second by default).
        """

        def load() -> FixturePageOut:
            found = exchange.fixtures(page, count, home=home, away=away, date=date, stage=status)
            return FixturePageOut([fixture_out(f) for f in found.items], found.total, page, count)

        pages: TtlCache[FixturePageOut] = state.fixture_pages
        return pages.get((page, count, home, away, date, status), load)

    # the path takes any text so that ``/fixtures/abc`` is a 400 naming the parameter, not a
    # "no such route" 404; the annotation converts and bounds it to what the database holds
    @get(
        "/{fixture_id:str}",
        sync_to_thread=True,
        responses=problems(400, 404),
        operation_id="getFixture",
        summary="Get one fixture",
    )
    def get_fixture(
        self,
        exchange: ExchangeDep,
        fixture_id: Annotated[int, Parameter(ge=-(2**63), le=2**63 - 1, description="fixture id")],
    ) -> FixtureOut:
        """One fixture with its availability."""
        return fixture_out(exchange.fixture(fixture_id))
