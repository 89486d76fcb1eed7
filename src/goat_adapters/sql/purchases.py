"""``ports.PurchaseRepository`` on the ``purchases`` table.

A status changes by a conditional ``UPDATE ... WHERE status IN (...)`` whose row count
says whether it happened, so no amount of concurrency applies an effect twice.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import attrs
import sqlalchemy as sa

from goat_adapters.sql import tables as t
from goat_adapters.sql.statements import (
    Statement,
    Transaction,
    advisory_lock,
    advisory_locks,
    changed,
    insert_new,
    lists,
    one_of,
    unnest_insert,
)
from goat_core.model import (
    FixtureSummary,
    Location,
    Outcome,
    PaymentStatus,
    Purchase,
    PurchaseStatus,
    PurchaseView,
)

__all__ = ["ADD_PURCHASE", "SqlPurchaseRepository", "purchase_values"]

_P = t.purchases.c
_PENDING, _DONE = "pending", "done"

ADD_PURCHASE = insert_new(t.purchases, _P.request_id)
"""Insert a purchase unless its request id is known: the row count (0 or 1) says which."""
_ADD_MANY = unnest_insert(t.purchases, "request_id", "request_id")
# On PostgreSQL one index probe per id, whatever the planner thinks of the table's size:
# ``request_id = ANY(:ids)`` on a table that grew since its last ANALYZE was planned as a
# sequential scan comparing each row with every id (12.6 ms for 100 ids among 10,000
# rows, against 0.3 ms).
_KNOWN = Statement(
    lambda dialect: (
        sa.text(
            "SELECT p.request_id FROM unnest(CAST(:ids AS VARCHAR[])) AS k(id)"
            " CROSS JOIN LATERAL"
            " (SELECT request_id FROM purchases WHERE request_id = k.id LIMIT 1) AS p"
        ).columns(sa.column("request_id", sa.String))
        if dialect == "postgresql"
        else sa.select(_P.request_id).where(one_of(dialect, _P.request_id, "ids"))
    ),
    writes=False,
)
_GET = Statement(sa.select(t.purchases).where(_P.request_id == sa.bindparam("rid")))
_TEAM_BACKED = sa.case(
    (_P.result == Outcome.HOME.value, t.fixtures.c.home_name),
    (_P.result == Outcome.AWAY.value, t.fixtures.c.away_name),
)
_WON_BY_TEAM = Statement(
    sa.select(_TEAM_BACKED.label("team"), sa.func.sum(_P.quantity).label("bonds"))
    .select_from(t.purchases.join(t.fixtures, t.fixtures.c.id == _P.fixture_id))
    .where(
        _P.user_id == sa.bindparam("user_id"),
        _P.status == PurchaseStatus.WON.value,
        _P.result != Outcome.DRAW.value,
    )
    .group_by(_TEAM_BACKED)
)
"""A user's won bonds by the team they backed (each purchase recomputes its buyer's)."""
_TRANSITION = Statement(
    lambda dialect: (
        sa.update(t.purchases)
        .where(_P.request_id == sa.bindparam("rid"), one_of(dialect, _P.status, "allowed"))
        .values(
            status=sa.bindparam("to", type_=sa.String),
            updated_at=sa.bindparam("now", type_=t.UtcDateTime),
            # None keeps what is there
            payout=sa.func.coalesce(sa.bindparam("new_payout", type_=sa.BigInteger), _P.payout),
            payment_outcome=sa.func.coalesce(
                sa.bindparam("new_outcome", type_=sa.String), _P.payment_outcome
            ),
        )
    )
)


_F = t.fixtures.c


def _newest_first(*where: sa.ColumnElement[bool], more: Sequence[Any] = ()) -> sa.Select[Any]:
    """A page of the purchases ``where`` says, newest first (``limit``, ``offset``), with
    ``more`` columns, each row with its fixture's summary (``f_id`` ... ``f_kickoff``;
    None for a fixture not stored), joined to the page's rows only: joined before the
    ``OFFSET``, PostgreSQL looked up the fixture of every purchase skipped."""
    page = (
        sa.select(t.purchases, *more)
        .where(*where)
        .order_by(_P.created_at.desc(), _P.request_id.desc())
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .offset(sa.bindparam("offset", type_=sa.Integer))
        .subquery("page")
    )
    return (
        sa.select(
            page,
            _F.id.label("f_id"),
            _F.home_name.label("f_home"),
            _F.away_name.label("f_away"),
            _F.league_name.label("f_league"),
            _F.league_round.label("f_round"),
            _F.kickoff.label("f_kickoff"),
        )
        .select_from(page.outerjoin(t.fixtures, _F.id == page.c.fixture_id))
        .order_by(page.c.created_at.desc(), page.c.request_id.desc())
    )


@functools.cache
def _user_page(one_user: bool, by_status: bool) -> tuple[Statement, Statement]:
    """The count and the page of ``page_for_user`` for one shape of query."""
    where = [_P.user_id == sa.bindparam("user_id") if one_user else _P.user_id.is_not(None)]
    if by_status:
        where.append(_P.status == sa.bindparam("status"))
    counted = sa.select(sa.func.count().label("n")).select_from(t.purchases).where(*where)
    return Statement(counted), Statement(_newest_first(*where))


_KEPT_TOTAL = (
    sa.select(t.users.c.purchases).where(t.users.c.id == sa.bindparam("user_id")).scalar_subquery()
)
_PAGE_AND_TOTAL = Statement(
    _newest_first(_P.user_id == sa.bindparam("user_id"), more=[_KEPT_TOTAL.label("kept_total")])
)
"""A user's page with their total of purchases as kept by a trigger on PostgreSQL
(``users.purchases``, migration 0009) on each row: one round trip."""


def purchase_values(p: Purchase) -> dict[str, Any]:
    return {
        "request_id": p.request_id,
        "group_id": p.group_id,
        "fixture_id": p.fixture_id,
        "league_name": p.league_name,
        "round": p.round,
        "date": p.date,
        "result": p.result.value,
        "quantity": p.quantity,
        "reserved": p.reserved,
        "wallet": p.wallet,
        "created_at": p.created_at,
        "status": p.status.value,
        "deposit_token": p.deposit_token,
        "seller": p.seller,
        "user_id": p.user_id,
        "payout": p.payout,
        "buy_order": p.buy_order,
        "payment_url": p.payment_url,
        "payment_outcome": p.payment_status.value if p.payment_status else None,
        "location": _location_text(p.location),
        "updated_at": p.updated_at,
        "give_back": None,
        "give_back_amount": None,
    }


def _location_text(location: Location | None) -> str | None:
    """The location as compact JSON (a ``TEXT`` column: no length can fail the purchase)."""
    if location is None:
        return None
    return json.dumps(attrs.asdict(location), separators=(",", ":"), ensure_ascii=False)


def _location(text: str | None) -> Location | None:
    """The stored location; text that is not goat's JSON (the original's) reads as None."""
    if not text:
        return None
    try:
        fields = json.loads(text)
        return Location(**fields) if isinstance(fields, dict) else None
    except (ValueError, TypeError):
        return None


def _purchase(row: Any) -> Purchase:
    return Purchase(
        request_id=row.request_id,
        group_id=row.group_id,
        fixture_id=row.fixture_id,
        league_name=row.league_name,
        round=row.round,
        date=row.date,
        result=Outcome(row.result),
        quantity=row.quantity,
        reserved=row.reserved,
        wallet=bool(row.wallet),
        created_at=row.created_at,
        status=PurchaseStatus(row.status),
        deposit_token=row.deposit_token,
        seller=row.seller,
        user_id=row.user_id,
        payout=row.payout,
        buy_order=row.buy_order,
        payment_url=row.payment_url,
        payment_status=PaymentStatus(row.payment_outcome) if row.payment_outcome else None,
        location=_location(row.location),
        updated_at=row.updated_at,
    )


def _view(row: Any) -> PurchaseView:
    """A row of ``_newest_first``: the purchase and its fixture's summary."""
    summary = None
    if row.f_id is not None:
        summary = FixtureSummary(
            row.f_id, row.f_home, row.f_away, row.f_league, row.f_round, row.f_kickoff
        )
    return PurchaseView(_purchase(row), summary)


class SqlPurchaseRepository:
    """``ports.PurchaseRepository`` on the ``purchases`` table."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def lock(self, request_id: str) -> None:
        """A transaction-scoped advisory lock on PostgreSQL; SQLite writers already queue."""
        advisory_lock(self._tx, request_id)

    def lock_many(self, request_ids: Collection[str]) -> set[str]:
        """``lock`` each id (sorted: one statement on PostgreSQL); those with a purchase."""
        if not request_ids:
            return set()
        advisory_locks(self._tx, request_ids)
        return self.known(request_ids)

    def known(self, request_ids: Collection[str]) -> set[str]:
        """Those of ``request_ids`` that have a purchase: one statement."""
        if not request_ids:
            return set()
        return {row.request_id for row in self._tx.run(_KNOWN, {"ids": list(request_ids)}).rows}

    def add(self, purchase: Purchase) -> bool:
        """Insert the purchase; False (and no change) if its request_id is already known."""
        return self._tx.run(ADD_PURCHASE, purchase_values(purchase)).rowcount > 0

    def add_many(self, purchases: Sequence[Purchase]) -> set[str]:
        """``add`` each purchase: one statement on PostgreSQL; the request ids inserted."""
        if self._tx.dialect != "postgresql":
            return {p.request_id for p in purchases if self.add(p)}
        if not purchases:
            return set()
        rows = [purchase_values(p) for p in purchases]
        added = self._tx.run(_ADD_MANY, lists(rows, rows[0])).rows
        return {row.request_id for row in added}

    def get(self, request_id: str) -> Purchase | None:
        """The purchase, or None."""
        found = self._tx.run(_GET, {"rid": request_id}).first()
        return _purchase(found) if found else None

    def find_by_payment(self, token: str | None, buy_order: str | None) -> Purchase | None:
        """Our purchase paid with this Webpay token, or else with this buy order."""
        p = t.purchases.c
        for column, value in ((p.deposit_token, token), (p.buy_order, buy_order)):
            if not value:
                continue
            row = self._tx.execute(
                sa.select(t.purchases)
                .where(column == value, p.user_id.is_not(None))
                .order_by(p.created_at, p.request_id)
                .limit(1)
            ).one_or_none()
            if row:
                return _purchase(row)
        return None

    def page_for_user(
        self, user_id: str | None, status: PurchaseStatus | None, page: int, count: int
    ) -> tuple[list[PurchaseView], int]:
        """A user's purchases newest first (every user's if ``user_id`` is None), each with
        its fixture's summary, and the total.

        Prepared once per shape (a user or all; a status or not): the index on (user_id,
        created_at, request_id) serves the count and the page, and each row of the page
        takes its fixture's six columns by primary key in the same statement. On
        PostgreSQL a registered user's total of every status is read from their row
        (migration 0009), not counted: the page is then one statement.
        """
        counted, listed = _user_page(user_id is not None, status is not None)
        values: dict[str, Any] = {}
        if user_id is not None:
            values["user_id"] = user_id
        if status is not None:
            values["status"] = status.value
        limits = {"limit": count, "offset": max(0, (page - 1) * count)}
        if user_id is not None and status is None and self._tx.dialect == "postgresql":
            rows = self._tx.run(_PAGE_AND_TOTAL, {**values, **limits}).rows
            kept = rows[0].kept_total if rows else None
            if kept is None:  # past the last page, or a user without a row
                kept = self._tx.run(counted, values).rows[0].n
            return [_view(row) for row in rows], int(kept)
        # counted on SQLite, with a status, and for everyone
        total = int(self._tx.run(counted, values).rows[0].n)
        rows = self._tx.run(listed, {**values, **limits}).rows
        return [_view(row) for row in rows], total

    def for_fixture(self, fixture_id: int, status: PurchaseStatus) -> list[Purchase]:
        """Purchases of a fixture in one status, oldest first."""
        p = t.purchases.c
        rows = self._tx.execute(
            sa.select(t.purchases)
            .where(p.fixture_id == fixture_id, p.status == status.value)
            .order_by(p.created_at, p.request_id)
        )
        return [_purchase(row) for row in rows]

    def won_bonds_by_team(self, user_id: str) -> dict[str, int]:
        """How many bonds the user won, by the team they backed: one grouped query."""
        rows = self._tx.run(_WON_BY_TEAM, {"user_id": user_id}).rows
        return {row.team: int(row.bonds) for row in rows if row.team is not None}

    def awaiting_payment(self, created_before: datetime, limit: int) -> list[Purchase]:
        """Our purchases still pending_payment made before a time, oldest first."""
        p = t.purchases.c
        rows = self._tx.execute(
            sa.select(t.purchases)
            .where(p.status == PurchaseStatus.PENDING_PAYMENT.value, p.created_at < created_before)
            .order_by(p.created_at, p.request_id)
            .limit(limit)
        )
        return [_purchase(row) for row in rows]

    def transition(
        self,
        request_id: str,
        allowed_from: Collection[PurchaseStatus],
        to: PurchaseStatus,
        now: datetime,
        *,
        payout: int | None = None,
        payment_status: PaymentStatus | None = None,
    ) -> bool:
        """Move the purchase to ``to`` only if its status is one of ``allowed_from``.

        ``UPDATE ... WHERE status IN (...)``: of concurrent callers, the first takes the
        row lock and the others re-check the status it left, so exactly one gets True.
        """
        if not allowed_from:
            return False
        parameters = {
            "rid": request_id,
            "allowed": sorted(s.value for s in allowed_from),
            "to": to.value,
            "now": now,
            "new_payout": payout,
            "new_outcome": payment_status.value if payment_status else None,
        }
        return self._tx.run(_TRANSITION, parameters).rowcount > 0

    def claim_give_back(
        self, request_id: str, amount: int, now: datetime, *, stale_before: datetime | None = None
    ) -> bool:
        """``UPDATE ... WHERE give_back IS NULL`` (or pending and claimed before
        ``stale_before``): the row lock makes exactly one caller's row count 1."""
        claimable: sa.ColumnElement[bool] = _P.give_back.is_(None)
        if stale_before is not None:
            claimable = sa.or_(
                claimable, sa.and_(_P.give_back == _PENDING, _P.updated_at < stale_before)
            )
        claimed = self._tx.execute(
            sa.update(t.purchases)
            .where(_P.request_id == request_id, claimable)
            .values(give_back=_PENDING, give_back_amount=amount, updated_at=now)
        )
        return changed(claimed)

    def give_back_done(self, request_id: str) -> bool:
        """``UPDATE ... WHERE give_back = 'pending'``: True for the one caller that closed it."""
        closed = self._tx.execute(
            sa.update(t.purchases)
            .where(_P.request_id == request_id, _P.give_back == _PENDING)
            .values(give_back=_DONE)
        )
        return changed(closed)

    def give_backs_pending(
        self, claimed_before: datetime, limit: int
    ) -> list[tuple[Purchase, int]]:
        """Pending and claimed before ``claimed_before``, oldest first."""
        rows = self._tx.execute(
            sa.select(t.purchases)
            .where(_P.give_back == _PENDING, _P.updated_at < claimed_before)
            .order_by(_P.created_at, _P.request_id)
            .limit(limit)
        )
        return [(_purchase(row), int(row.give_back_amount or 0)) for row in rows]
