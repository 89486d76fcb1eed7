"""The read side: what the HTTP edge shows, with who may see what.

Every query runs in a unit of work that only reads (no BEGIN, no COMMIT on PostgreSQL).
A user sees only their own purchases, wallet and receipts; an admin sees any purchase.
Another user's purchase is "unknown", so that its existence is not leaked.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Generic, TypeVar

import attrs

from goat_core.errors import Forbidden, NotAccepted, UnknownFixture, UnknownPurchase
from goat_core.jobs import MakeReceipt
from goat_core.model import (
    RECEIPT_STATUSES,
    DeadLetter,
    Fixture,
    FixtureStage,
    FixtureSummary,
    Purchase,
    PurchaseStatus,
    PurchaseView,
    Viewer,
)
from goat_core.ports import FixtureQuery, ReceiptStore
from goat_core.services.context import Context

__all__ = ["Page", "Queries", "RecommendedFixtures", "require_admin"]


T = TypeVar("T")


@attrs.frozen
class Page(Generic[T]):
    """One page of a longer list, and how many items the whole list has."""

    items: list[T]
    total: int
    page: int
    count: int


@attrs.frozen
class RecommendedFixtures:
    """A user's last computed recommendations, best first, with their fixtures."""

    updated_at: dt.datetime | None
    items: list[tuple[Fixture, Decimal]]


def require_admin(viewer: Viewer) -> None:
    """Raise ``Forbidden`` unless the viewer carries goat:admin."""
    if not viewer.admin:
        raise Forbidden("this needs the goat:admin permission")


class Queries:
    """Reads for the HTTP edge and the CLI."""

    def __init__(self, context: Context, receipts: ReceiptStore | None) -> None:
        self._context = context
        self._receipts = receipts

    def fixtures(
        self,
        page: int = 1,
        count: int = 25,
        *,
        home: str | None = None,
        away: str | None = None,
        date: dt.date | None = None,
        stage: FixtureStage | None = None,
    ) -> Page[Fixture]:
        """Upcoming fixtures first by kick-off, then the rest, latest first.

        ``stage`` keeps only upcoming, live or finished fixtures; without it, any other
        filter keeps only fixtures not yet started.
        """
        query = FixtureQuery(
            now=self._context.clock.now(),
            page=page,
            count=count,
            home=home or None,
            away=away or None,
            date=date,
            stage=stage,
        )
        with self._context.uow() as uow:
            found, total = uow.fixtures.page(query)
        return Page(found, total, page, count)

    def fixture(self, fixture_id: int) -> Fixture:
        """One fixture with its availability; ``UnknownFixture`` if there is none."""
        with self._context.uow() as uow:
            fixture = uow.fixtures.get(fixture_id)
        if fixture is None:
            raise UnknownFixture(fixture_id)
        return fixture

    def purchases(
        self,
        viewer: Viewer,
        page: int = 1,
        count: int = 25,
        *,
        status: PurchaseStatus | None = None,
        user_id: str | None = None,
    ) -> Page[PurchaseView]:
        """The viewer's purchases, newest first; an admin may name another ``user_id``."""
        whose = viewer.user_id
        if user_id is not None and user_id != viewer.user_id:
            require_admin(viewer)
            whose = user_id
        with self._context.uow() as uow:
            found, total = uow.purchases.page_for_user(whose, status, page, count)
        return Page(found, total, page, count)

    def purchase(self, viewer: Viewer, request_id: str) -> PurchaseView:
        """One purchase, for its owner or an admin; ``UnknownPurchase`` for anyone else."""
        with self._context.uow() as uow:
            purchase = uow.purchases.get(request_id)
            if purchase is None or not (viewer.admin or purchase.user_id == viewer.user_id):
                raise UnknownPurchase(request_id)
            fixtures = uow.fixtures.summaries({purchase.fixture_id})
        return _view(purchase, fixtures)

    def view(self, purchase: Purchase) -> PurchaseView:
        """The purchase with a summary of its fixture."""
        with self._context.uow() as uow:
            return _view(purchase, uow.fixtures.summaries({purchase.fixture_id}))

    def receipt(self, viewer: Viewer, request_id: str) -> str | None:
        """The URL of the owner's receipt, or None while it is being made.

        Only the owner gets it (an admin too sees "unknown"): it carries their name and
        email. ``NotAccepted`` if the purchase has no receipt. While there is none yet, a
        job to make it is queued again (through the job outbox): jobs are safe to run twice.
        """
        purchase = self.purchase(viewer, request_id).purchase
        if purchase.user_id != viewer.user_id:
            raise UnknownPurchase(request_id)
        if purchase.status not in RECEIPT_STATUSES:
            raise NotAccepted(f"purchase {request_id} is {purchase.status}: it has no receipt")
        url = self._receipts.url(request_id) if self._receipts is not None else None
        if url is None:
            with self._context.uow() as uow:
                uow.jobs.add(MakeReceipt(request_id))
                uow.commit()
            self._context.jobs_queued()
        return url

    def balance(self, user_id: str) -> int:
        """The user's wallet balance in CLP (0 for a user never seen)."""
        with self._context.uow() as uow:
            user = uow.users.get(user_id)
        return user.wallet if user else 0

    def recommendations(self, user_id: str) -> RecommendedFixtures:
        """The user's last computed recommendations with their fixtures, best first."""
        with self._context.uow() as uow:
            stored = uow.recommendations.get(user_id)
            items = stored.items if stored else ()
            fixtures = uow.fixtures.get_many({item.fixture_id for item in items})
        return RecommendedFixtures(
            stored.updated_at if stored else None,
            [(fixtures[i.fixture_id], i.pond) for i in items if i.fixture_id in fixtures],
        )

    def dead_letters(self, viewer: Viewer, page: int = 1, count: int = 25) -> Page[DeadLetter]:
        """Broker messages that could not be applied, newest first (admins)."""
        require_admin(viewer)
        with self._context.uow() as uow:
            found, total = uow.dead_letters.page(page, count)
        return Page(found, total, page, count)

    def outbox_backlog(self) -> int:
        """How many of our messages wait to be published (raises if the database is down)."""
        with self._context.uow() as uow:
            return uow.outbox.backlog()


def _view(purchase: Purchase, fixtures: dict[int, FixtureSummary]) -> PurchaseView:
    return PurchaseView(purchase, fixtures.get(purchase.fixture_id))
