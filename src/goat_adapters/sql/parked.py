"""Peers' purchases of fixtures not announced yet: ``parked_requests``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from goat_adapters.sql import tables as t
from goat_adapters.sql.statements import Statement, Transaction, advisory_lock, insert_new
from goat_core.ports import ParkedRequest

__all__ = ["SqlParkedRequests"]

_R = t.parked_requests.c
_LOCK_KEY = "parked-requests"

_PARK = insert_new(t.parked_requests, _R.request_id)
_TAKE_ARRIVED = Statement(
    sa.delete(t.parked_requests)
    .where(_R.fixture_id.in_(sa.select(t.fixtures.c.id).scalar_subquery()))
    .returning(_R.request_id, _R.fixture_id, _R.payload, _R.parked_at)
)


class SqlParkedRequests:
    """``ports.ParkedRequests`` on the ``parked_requests`` table."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def lock(self) -> None:
        """A transaction-scoped advisory lock on PostgreSQL; SQLite writers already queue."""
        advisory_lock(self._tx, _LOCK_KEY)

    def park(self, request: ParkedRequest) -> bool:
        """Keep the request (the first one kept for its request id wins); False if one was."""
        values = {
            "request_id": request.request_id,
            "fixture_id": request.fixture_id,
            "payload": request.payload,
            "parked_at": request.parked_at,
        }
        return self._tx.run(_PARK, values).rowcount > 0

    def take_arrived(self) -> list[ParkedRequest]:
        """Remove and return every parked request whose fixture is stored now, oldest first."""
        return _oldest_first(self._tx.run(_TAKE_ARRIVED, {}).rows)

    def take_expired(self, parked_before: datetime, limit: int) -> list[ParkedRequest]:
        """Remove and return up to ``limit`` requests parked before a time, oldest first."""
        oldest = (
            sa.select(_R.request_id)
            .where(_R.parked_at < parked_before)
            .order_by(_R.parked_at, _R.request_id)
            .limit(limit)
        )
        rows = self._tx.execute(
            sa.delete(t.parked_requests)
            .where(_R.request_id.in_(oldest.scalar_subquery()))
            .returning(_R.request_id, _R.fixture_id, _R.payload, _R.parked_at)
        )
        return _oldest_first(list(rows))


def _oldest_first(rows: list[Any]) -> list[ParkedRequest]:
    found = [
        ParkedRequest(row.request_id, int(row.fixture_id), row.payload, row.parked_at)
        for row in rows
    ]
    return sorted(found, key=lambda r: (r.parked_at, r.request_id))
