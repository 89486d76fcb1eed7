"""The in-memory message stores: the outboxes (broker messages, jobs), the inbox, dead
letters and auctions.

Each works on the state of one unit of work (``store._State``), like every repository of
the in-memory store; units of work run one at a time, so ``pending`` needs no lock.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from goat_core.jobs import Job
from goat_core.model import DeadLetter, OutboxMessage
from goat_core.ports import PendingJob

if TYPE_CHECKING:
    from goat_adapters.memory.store import _State

__all__ = [
    "MemoryAuctions",
    "MemoryDeadLetters",
    "MemoryInbox",
    "MemoryJobOutbox",
    "MemoryOutbox",
]


@attrs.define
class MemoryOutbox:
    """``ports.Outbox`` over a list of (message, sent)."""

    s: _State

    def add(self, topic: str, payload: str) -> None:
        self.s.outbox.append((OutboxMessage(len(self.s.outbox) + 1, topic, payload), False))

    def pending(self, limit: int) -> list[OutboxMessage]:
        return [m for m, sent in self.s.outbox if not sent][:limit]

    def mark_sent(self, ids: Collection[int]) -> None:
        self.s.outbox = [(m, sent or m.id in ids) for m, sent in self.s.outbox]

    def backlog(self) -> int:
        return sum(1 for _, sent in self.s.outbox if not sent)


@attrs.define
class MemoryJobOutbox:
    """``ports.JobOutbox`` over a list of (pending job, sent)."""

    s: _State

    def add(self, *jobs: Job) -> None:
        for job in jobs:
            self.s.jobs.append((PendingJob(len(self.s.jobs) + 1, job), False))

    def pending(self, limit: int) -> list[PendingJob]:
        return [entry for entry, sent in self.s.jobs if not sent][:limit]

    def mark_sent(self, ids: Collection[int]) -> None:
        wanted = set(ids)
        self.s.jobs = [(entry, sent or entry.id in wanted) for entry, sent in self.s.jobs]

    def backlog(self) -> int:
        return sum(1 for _, sent in self.s.jobs if not sent)


@attrs.define
class MemoryInbox:
    """``ports.Inbox`` over a set of keys."""

    s: _State

    def remember(self, key: str) -> bool:
        if key in self.s.inbox:
            return False
        self.s.inbox.add(key)
        return True

    def remember_many(self, keys: Collection[str]) -> set[str]:
        return {key for key in keys if self.remember(key)}


@attrs.define
class MemoryDeadLetters:
    """``ports.DeadLetters`` over a list, newest last."""

    s: _State

    def add(self, topic: str, payload: str, reason: str, now: datetime) -> None:
        self.s.dead_letters.append(
            DeadLetter(len(self.s.dead_letters) + 1, topic, payload, reason, now)
        )

    def page(self, page: int, count: int) -> tuple[list[DeadLetter], int]:
        newest = self.s.dead_letters[::-1]
        return newest[(page - 1) * count : page * count], len(newest)


@attrs.define
class MemoryAuctions:
    """``ports.Auctions``: the payloads as received."""

    s: _State

    def add(self, payload: str, now: datetime) -> None:
        self.s.auctions.append(payload)
