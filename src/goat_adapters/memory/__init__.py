"""In-memory implementations of every port of ``goat_core.ports``.

For tests and for services that want to run the whole core without a server: ``World()``
builds an ``Exchange`` over all of them in one line (see ``goat_adapters.memory.world``),
or assemble one yourself::

    store = InMemoryStore()
    exchange = Exchange(
        uow=store.unit_of_work, payments=InMemoryPaymentGateway(), jobs=InMemoryJobQueue(),
        clock=ManualClock(), ids=SequentialIds(),
    )

Recorders for assertions: ``store.outbox_messages()``, ``InMemoryBroker.published``,
``InMemoryJobQueue.enqueued``, ``InMemoryReceiptStore.documents``,
``InMemoryReceiptRenderer.rendered``, ``InMemoryMailer.sent``,
``InMemoryPaymentGateway.committed`` and ``.refunded``, ``InMemoryGeolocator.asked``.
"""

from goat_adapters.memory.async_sales import InMemoryAsyncSaleLedger
from goat_adapters.memory.doubles import (
    InMemoryBroker,
    InMemoryGeolocator,
    InMemoryJobQueue,
    InMemoryPaymentGateway,
    InMemoryReceiptStore,
    ManualClock,
    SequentialIds,
)
from goat_adapters.memory.notices import InMemoryMailer, InMemoryReceiptRenderer
from goat_adapters.memory.store import InMemoryStore, InMemoryUnitOfWork
from goat_adapters.memory.world import World, make_fixture, request_payload

__all__ = [
    "InMemoryAsyncSaleLedger",
    "InMemoryBroker",
    "InMemoryGeolocator",
    "InMemoryJobQueue",
    "InMemoryMailer",
    "InMemoryPaymentGateway",
    "InMemoryReceiptRenderer",
    "InMemoryReceiptStore",
    "InMemoryStore",
    "InMemoryUnitOfWork",
    "ManualClock",
    "SequentialIds",
    "World",
    "make_fixture",
    "request_payload",
]
