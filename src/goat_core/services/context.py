"""What every use case runs over: the ports shared by all concerns, and the rules."""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs

from goat_core.model import Rules
from goat_core.ports import AsyncSaleLedger, Clock, IdGenerator, JobQueue, UnitOfWorkFactory

__all__ = ["Context"]

log = logging.getLogger("goat.core")


@attrs.frozen
class Context:
    """The shared ports of one exchange: transactions, time, ids, jobs, and the rules.

    Jobs are added to the unit of work's job outbox (``uow.jobs``) with the change that
    calls for them; ``jobs_queued()`` after the commit tells whoever relays the outbox
    (``on_jobs_queued``) to look now rather than at its next tick.
    """

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    jobs: JobQueue
    rules: Rules
    on_jobs_queued: list[Callable[[], object]] = attrs.Factory(list)
    async_sales: AsyncSaleLedger | None = None
    """Where ``POST /requests`` writes its lots from the event loop (optional)."""

    def jobs_queued(self) -> None:
        """Jobs were committed to the job outbox: wake the relays; a failure is reported.

        The jobs are committed and safe: a relay that is not woken finds them anyway.
        """
        for wake in self.on_jobs_queued:
            try:
                wake()
            except Exception as error:
                log.error("could not relay jobs now: %s", error)
