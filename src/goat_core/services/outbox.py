"""What we tell the broker: the outbox, published after the transactions that fill it."""

from __future__ import annotations

import logging

from goat_core.ports import BrokerPublisher, UnitOfWorkFactory

__all__ = ["relay_outbox"]

log = logging.getLogger("goat.core")


def relay_outbox(uow: UnitOfWorkFactory, publisher: BrokerPublisher, batch: int = 100) -> int:
    """Publish queued messages oldest first, marking each sent once acknowledged.

    Stops at the first failure (``Unavailable`` propagates): what is not acknowledged
    stays queued and goes out on the next call, so nothing is lost, and order is kept.
    """
    with uow() as unit:
        messages = unit.outbox.pending(batch)
    sent = 0
    try:
        for message in messages:
            publisher.publish(message.topic, message.payload)
            with uow() as unit:
                unit.outbox.mark_sent([message.id])
                unit.commit()
            sent += 1
    finally:
        if sent:
            log.info("published %d outbox messages", sent)
    return sent
