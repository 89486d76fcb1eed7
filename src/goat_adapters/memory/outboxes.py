"""The in-memory message stores: the outboxes (broker messages, jobs), the inbox, parked
messages, dead letters and auctions.

Each works on the state of one unit of work (``store._State``), like every repository of
the in-memory store; units of work run one at a time, so ``pending`` needs no lock.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from goat_core.jobs import Job
from goat_core.model import DeadLetter, OutboxMessage, ValidationMessage
from goat_core.ports import ParkedRequest, PendingJob

if TYPE_CHECKING:
    from goat_adapters.memory.store import _State

__all__ = [
    "MemoryAuctions",
    "MemoryDeadLetters",
    "MemoryInbox",
    "MemoryJobOutbox",
    "MemoryOutbox",
    "MemoryParkedRequests",
    "MemoryParkedValidations",
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


@attrs.define
class MemoryParkedValidations:
    """``ports.ParkedValidations``: validations that came before their request."""

    s: _State

    def park(self, message: ValidationMessage, now: datetime) -> None:
        self.s.parked.setdefault(message.request_id, message)

    def take(self, request_id: str) -> ValidationMessage | None:
        return self.s.parked.pop(request_id, None)

    def take_many(self, request_ids: Collection[str]) -> dict[str, ValidationMessage]:
        taken = {rid: self.s.parked.pop(rid, None) for rid in request_ids}
        return {rid: message for rid, message in taken.items() if message is not None}


@attrs.define
class MemoryParkedRequests:
    """``ParkedRequests``: peers' requests for fixtures not heard of yet."""

    s: _State

    def lock(self) -> None:
        """Nothing to do: units of work on the store already run one at a time."""

    def park(self, request: ParkedRequest) -> bool:
        if request.request_id in self.s.parked_requests:
            return False
        self.s.parked_requests[request.request_id] = request
        return True

    def take_arrived(self) -> list[ParkedRequest]:
        return self._take(lambda r: r.fixture_id in self.s.fixtures)

    def take_expired(self, parked_before: datetime, limit: int) -> list[ParkedRequest]:
        return self._take(lambda r: r.parked_at < parked_before, limit)

    def _take(
        self, which: Callable[[ParkedRequest], bool], limit: int | None = None
    ) -> list[ParkedRequest]:
        taken = sorted(
            (r for r in self.s.parked_requests.values() if which(r)),
            key=lambda r: (r.parked_at, r.request_id),
        )[:limit]
        for request in taken:
            del self.s.parked_requests[request.request_id]
        return taken
