"""The in-memory outboxes: broker messages (``ports.Outbox``) and jobs (``ports.JobOutbox``).

Each works on the state of one unit of work (``store._State``), like every repository of
the in-memory store; units of work run one at a time, so ``pending`` needs no lock.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import attrs

from goat_core.jobs import Job
from goat_core.model import OutboxMessage
from goat_core.ports import PendingJob

if TYPE_CHECKING:
    from goat_adapters.memory.store import _State

__all__ = ["MemoryJobOutbox", "MemoryOutbox"]


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
