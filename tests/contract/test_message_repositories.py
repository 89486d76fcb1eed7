"""The contract of the message repositories and recommendations, on every backend."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from goat_core.model import (
    Recommendation,
    Recommendations,
    ValidationMessage,
)
from tests.contract.builders import (
    NOW,
)
from tests.contract.conftest import Backend

# -- messages -----------------------------------------------------------------------------


def test_outbox_hands_out_unsent_messages_oldest_first(backend: Backend) -> None:
    """pending() lists unsent messages oldest first; mark_sent() removes them for good."""
    with backend.uow() as uow:
        for i in range(4):
            uow.outbox.add("fixtures/requests", f'{{"n": {i}}}')
        uow.commit()
    with backend.uow() as uow:
        first = uow.outbox.pending(2)
        assert [m.payload for m in first] == ['{"n": 0}', '{"n": 1}']
        assert all(m.topic == "fixtures/requests" for m in first)
        uow.outbox.mark_sent([first[0].id])
        uow.commit()
    with backend.uow() as uow:
        assert uow.outbox.backlog() == 3
        assert [m.payload for m in uow.outbox.pending(10)] == [
            '{"n": 1}',
            '{"n": 2}',
            '{"n": 3}',
        ]
        uow.outbox.mark_sent([m.id for m in uow.outbox.pending(10)])
        uow.commit()
    with backend.uow() as uow:
        assert uow.outbox.backlog() == 0
        assert uow.outbox.pending(10) == []


def test_inbox_remembers_each_key_once(backend: Backend) -> None:
    """remember() is True the first time a key is seen, also across units of work, then False."""
    with backend.uow() as uow:
        assert uow.inbox.remember("fixtures/info:abc")
        assert not uow.inbox.remember("fixtures/info:abc")
        uow.commit()
    with backend.uow() as uow:
        assert not uow.inbox.remember("fixtures/info:abc")
        assert uow.inbox.remember("fixtures/info:def")


def test_parked_validation_first_kept_wins_and_is_taken_once(backend: Backend) -> None:
    """park() keeps the first validation of a request; take() returns it once."""
    first = ValidationMessage("r9", "6", valid=False, seller=0)
    with backend.uow() as uow:
        uow.parked.park(first, NOW)
        uow.parked.park(ValidationMessage("r9", "6", valid=True), NOW)
        uow.commit()
    with backend.uow() as uow:
        assert uow.parked.take("r9") == first
        assert uow.parked.take("r9") is None
        assert uow.parked.take("unknown") is None
        uow.commit()


def test_dead_letters_page_newest_first(backend: Backend) -> None:
    """page() lists kept messages newest first with their topic, payload, reason and time."""
    with backend.uow() as uow:
        for i in range(3):
            uow.dead_letters.add("fixtures/requests", f"payload {i}", f"reason {i}", NOW)
        uow.commit()
    with backend.uow() as uow:
        newest, total = uow.dead_letters.page(1, 2)
        oldest, _ = uow.dead_letters.page(2, 2)
    assert total == 3
    assert [(d.payload, d.reason) for d in newest] == [
        ("payload 2", "reason 2"),
        ("payload 1", "reason 1"),
    ]
    assert [d.payload for d in oldest] == ["payload 0"]
    assert all(d.topic == "fixtures/requests" and d.received_at == NOW for d in newest)


def test_auctions_are_kept_as_received(backend: Backend) -> None:
    """add() stores the auction payload verbatim."""
    with backend.uow() as uow:
        uow.auctions.add('{"auction_id": "a1"}', NOW)
        uow.auctions.add("not even json", NOW)
        uow.commit()
    assert backend.auctions() == ['{"auction_id": "a1"}', "not even json"]


def test_recommendations_are_replaced_and_exact(backend: Backend) -> None:
    """put() replaces a user's recommendations; get() returns them with exact ponds."""
    first = Recommendations(
        "alice",
        NOW,
        (
            Recommendation(7, Decimal("12") / Decimal("1.85")),
            Recommendation(3, Decimal("4.5")),
        ),
    )
    with backend.uow() as uow:
        assert uow.recommendations.get("alice") is None
        uow.recommendations.put(first)
        uow.commit()
    with backend.uow() as uow:
        assert uow.recommendations.get("alice") == first
        uow.recommendations.put(Recommendations("alice", NOW + timedelta(hours=1)))
        uow.commit()
    with backend.uow() as uow:
        assert uow.recommendations.get("alice") == Recommendations(
            "alice", NOW + timedelta(hours=1)
        )
