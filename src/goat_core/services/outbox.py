"""What leaves after commit: the outbox (to the broker) and the job outbox (to the job queue),
each relayed after the transactions that fill it."""

from __future__ import annotations

import logging

from goat_core.errors import GoatError, NotAllPublished
from goat_core.ports import BrokerPublisher, JobQueue, UnitOfWorkFactory

__all__ = ["relay_jobs", "relay_outbox"]

log = logging.getLogger("goat.core")


def relay_outbox(uow: UnitOfWorkFactory, publisher: BrokerPublisher, batch: int = 100) -> int:
    """Publish queued messages oldest first; mark those the broker acknowledged sent.

    The batch goes out at once (``publish_many``: no wait for one acknowledgement before
    the next message). On a failure (``Unavailable`` propagates) the messages the broker
    acknowledged first are marked sent and the rest stay queued for the next call, so
    nothing is lost, and order is kept. The acknowledged ones are marked in one
    transaction after the batch (a commit per message cost the relay most of its time):
    a process that dies in between sends them again, which every receiver ignores (the
    request id is known).
    """
    with uow() as unit:
        messages = unit.outbox.pending(batch)
    if not messages:
        return 0
    try:
        publisher.publish_many([(message.topic, message.payload) for message in messages])
    except Exception as failure:
        done = failure.acknowledged if isinstance(failure, NotAllPublished) else 0
        try:
            _mark_sent(uow, [message.id for message in messages[:done]])
        except GoatError as error:  # the failure that stopped the batch is the one to raise
            log.warning("could not mark %d published messages sent: %s", done, error)
        raise
    _mark_sent(uow, [message.id for message in messages])
    return len(messages)


def _mark_sent(uow: UnitOfWorkFactory, ids: list[int]) -> None:
    if ids:
        with uow() as unit:
            unit.outbox.mark_sent(ids)
            unit.commit()
        log.info("published %d outbox messages", len(ids))


def relay_jobs(uow: UnitOfWorkFactory, queue: JobQueue, batch: int = 500) -> int:
    """Hand pending jobs to the job queue oldest first, marking them sent; return how many.

    Equal jobs fold: each distinct job of the batch is queued once and all its rows are
    marked sent with it (a user's burst of purchases costs one recompute). The batch goes
    to the queue in one call (``enqueue_many``: one round trip to Redis, not one per job);
    if it fails (``Unavailable`` propagates) the whole batch stays pending for the next
    call, so an outage delays jobs and loses none.

    No transaction is held while the queue is called (a queue may run the job at once,
    in this thread). Relays in several processes may both hand a job over: jobs are
    safe to run twice, and a queue folds a job equal to one still waiting.
    """
    with uow() as unit:
        pending = unit.jobs.pending(batch)
    if not pending:
        return 0
    distinct = list(dict.fromkeys(entry.job for entry in pending))
    queue.enqueue_many(distinct)
    with uow() as unit:
        unit.jobs.mark_sent([entry.id for entry in pending])
        unit.commit()
    log.debug("queued %d jobs (%d rows)", len(distinct), len(pending))
    return len(pending)
