"""Messages in and out: ``outbox``, ``inbox``, ``parked_validations``, ``dead_letters``,
``auctions``.

The inbox is an ``INSERT ... ON CONFLICT DO NOTHING`` whose row count says whether the
message is new, so no amount of concurrency applies a message twice.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa

from goat_adapters.sql import tables as t
from goat_adapters.sql.statements import (
    Statement,
    Transaction,
    dialect_insert,
    insert_new,
    mark_sent,
    one_of,
    unsent,
)
from goat_core.model import DeadLetter, OutboxMessage, ValidationMessage

__all__ = [
    "ADD_OUTBOX",
    "SqlAuctions",
    "SqlDeadLetters",
    "SqlInbox",
    "SqlOutbox",
    "SqlParkedValidations",
]

_V = t.parked_validations.c

ADD_OUTBOX = Statement(
    # inline: no RETURNING of the new id
    sa.insert(t.outbox)
    .values(topic=sa.bindparam("topic"), payload=sa.bindparam("payload"))
    .inline()
)
"""Queue a message (``topic``, ``payload``) for the publisher."""
_REMEMBER = Statement(
    lambda dialect: (
        dialect_insert(dialect, t.inbox)
        .values(key=sa.bindparam("key"))
        .on_conflict_do_nothing(index_elements=[t.inbox.c.key])
    )
)
_REMEMBER_MANY = Statement(
    sa.text(
        "INSERT INTO inbox (key) SELECT unnest(CAST(:keys AS VARCHAR[]))"
        " ON CONFLICT (key) DO NOTHING RETURNING key"
    ).columns(sa.column("key", sa.String)),
    writes=True,
)
_PARK = insert_new(t.parked_validations, _V.request_id)
_TAKE_PARKED = Statement(
    sa.delete(t.parked_validations)
    .where(_V.request_id == sa.bindparam("rid"))
    .returning(_V.request_id, _V.group_id, _V.valid, _V.seller)
)
_TAKE_PARKED_MANY = Statement(
    lambda dialect: (
        sa.delete(t.parked_validations)
        .where(one_of(dialect, _V.request_id, "ids"))
        .returning(_V.request_id, _V.group_id, _V.valid, _V.seller)
    )
)
_PENDING = unsent(t.outbox, t.outbox.c.id, t.outbox.c.topic, t.outbox.c.payload)
_BACKLOG = Statement(
    sa.select(sa.func.count().label("n")).select_from(t.outbox).where(t.outbox.c.sent_at.is_(None))
)
_MARK_SENT = mark_sent(t.outbox)


class SqlOutbox:
    """``ports.Outbox`` on the ``outbox`` table."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def add(self, topic: str, payload: str) -> None:
        """Queue a message to publish after this unit of work commits."""
        self._tx.run(ADD_OUTBOX, {"topic": topic, "payload": payload})

    def pending(self, limit: int) -> list[OutboxMessage]:
        """Unsent messages, oldest first."""
        rows = self._tx.run(_PENDING, {"limit": limit}).rows
        return [OutboxMessage(row.id, row.topic, row.payload) for row in rows]

    def mark_sent(self, ids: Collection[int]) -> None:
        """The broker acknowledged these; never hand them out again."""
        if ids:
            self._tx.run(_MARK_SENT, {"ids": sorted(ids)})

    def backlog(self) -> int:
        """How many messages wait to be sent."""
        return int(self._tx.run(_BACKLOG, {}).rows[0].n)


class SqlInbox:
    """``ports.Inbox``: a primary key per applied message."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def remember(self, key: str) -> bool:
        """Record that the message ``key`` is applied; False if it already was."""
        return self._tx.run(_REMEMBER, {"key": key}).rowcount > 0

    def remember_many(self, keys: Collection[str]) -> set[str]:
        """``remember`` each key (one statement on PostgreSQL); the keys that were new."""
        if self._tx.dialect != "postgresql":
            return {key for key in keys if self.remember(key)}
        if not keys:
            return set()
        return {row.key for row in self._tx.run(_REMEMBER_MANY, {"keys": list(keys)}).rows}


class SqlParkedValidations:
    """``ports.ParkedValidations`` on the ``parked_validations`` table."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def park(self, message: ValidationMessage, now: datetime) -> None:
        """Keep a validation whose request has not arrived (the first one kept wins)."""
        values = {
            "request_id": message.request_id,
            "group_id": message.group_id,
            "valid": message.valid,
            "seller": message.seller,
            "parked_at": now,
        }
        self._tx.run(_PARK, values)

    def take(self, request_id: str) -> ValidationMessage | None:
        """Remove and return the validation parked for this request, if any."""
        row = self._tx.run(_TAKE_PARKED, {"rid": request_id}).first()
        if row is None:
            return None
        return ValidationMessage(row.request_id, row.group_id, bool(row.valid), row.seller)

    def take_many(self, request_ids: Collection[str]) -> dict[str, ValidationMessage]:
        """``take`` for several requests in one statement, by request id."""
        if not request_ids:
            return {}
        rows = self._tx.run(_TAKE_PARKED_MANY, {"ids": list(request_ids)}).rows
        return {
            row.request_id: ValidationMessage(
                row.request_id, row.group_id, bool(row.valid), row.seller
            )
            for row in rows
        }


class SqlDeadLetters:
    """``ports.DeadLetters`` on the ``dead_letters`` table."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def add(self, topic: str, payload: str, reason: str, now: datetime) -> None:
        """Keep a message that could not be applied, with why."""
        self._tx.execute(
            sa.insert(t.dead_letters).values(
                topic=topic, payload=payload, reason=reason, received_at=now
            )
        )

    def page(self, page: int, count: int) -> tuple[list[DeadLetter], int]:
        """Kept messages newest first, and how many there are."""
        d = t.dead_letters.c
        total = self._tx.execute(
            sa.select(sa.func.count()).select_from(t.dead_letters)
        ).scalar_one()
        rows = self._tx.execute(
            sa.select(t.dead_letters)
            .order_by(d.id.desc())
            .limit(count)
            .offset(max(0, (page - 1) * count))
        )
        return [
            DeadLetter(row.id, row.topic, row.payload, row.reason, row.received_at) for row in rows
        ], total


class SqlAuctions:
    """``ports.Auctions`` on the ``auctions`` table."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def add(self, payload: str, now: datetime) -> None:
        """Store a fixtures/auctions message as received."""
        self._tx.execute(sa.insert(t.auctions).values(payload=payload, received_at=now))
