"""relay_outbox: our publications leave after commit, in order, and are never lost."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from goat_adapters.memory.outboxes import MemoryOutbox
from goat_core.errors import NotAllPublished, Unavailable
from goat_core.model import Outcome
from goat_core.wire import TOPIC_REQUESTS
from tests.unit.support import USER, World


class _FlakyBroker:
    """Acknowledges ``ok`` messages, then fails."""

    def __init__(self, ok: int) -> None:
        self.ok = ok
        self.published: list[tuple[str, str]] = []

    def publish_many(self, messages: Sequence[tuple[str, str]]) -> None:
        for acknowledged, message in enumerate(messages):
            if len(self.published) >= self.ok:
                raise NotAllPublished(acknowledged, "broker went away")
            self.published.append(message)


def _buy_three(world: World) -> list[str]:
    world.fund(USER, 3000)
    return [world.buy(USER, 1, Outcome.HOME, 1).purchase.request_id for _ in range(3)]


def _ids(published: list[tuple[str, str]]) -> list[str]:
    return [json.loads(payload)["request_id"] for _, payload in published]


def test_relay_publishes_in_order_and_marks_sent(world: World) -> None:
    """Queued messages go out oldest first, once each."""
    request_ids = _buy_three(world)

    assert world.exchange.relay_outbox(world.broker) == 3
    assert world.exchange.relay_outbox(world.broker) == 0

    assert [topic for topic, _ in world.broker.published] == [TOPIC_REQUESTS] * 3
    assert _ids(world.broker.published) == request_ids
    with world.store.unit_of_work() as uow:
        assert uow.outbox.backlog() == 0


def test_nothing_leaves_before_relay(world: World) -> None:
    """A purchase only writes its message to the outbox; the broker sees nothing yet."""
    _buy_three(world)

    assert world.broker.published == []


def test_broker_down_loses_nothing(world: World) -> None:
    """With the broker down nothing is marked sent; everything goes out once it is back."""
    request_ids = _buy_three(world)
    world.broker.down = True

    with pytest.raises(Unavailable):
        world.exchange.relay_outbox(world.broker)
    with world.store.unit_of_work() as uow:
        assert uow.outbox.backlog() == 3

    world.broker.down = False
    assert world.exchange.relay_outbox(world.broker) == 3
    assert _ids(world.broker.published) == request_ids


def test_outage_midway_resumes_where_it_stopped(world: World) -> None:
    """Messages acknowledged before an outage are not sent again; the rest follow in order."""
    request_ids = _buy_three(world)
    flaky = _FlakyBroker(ok=1)

    with pytest.raises(Unavailable):
        world.exchange.relay_outbox(flaky)
    flaky.ok = 10
    world.exchange.relay_outbox(flaky)

    assert _ids(flaky.published) == request_ids


def test_relay_respects_the_batch_size(world: World) -> None:
    """One relay call sends at most ``batch`` messages, the oldest."""
    request_ids = _buy_three(world)

    assert world.exchange.relay_outbox(world.broker, batch=2) == 2

    assert _ids(world.broker.published) == request_ids[:2]


def test_the_publishers_failure_is_raised_when_marking_fails_too(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The broker fails midway and the database fails to mark what went out: the broker's
    error is the one raised, and what went out goes out again (at least once)."""
    request_ids = _buy_three(world)
    flaky = _FlakyBroker(ok=1)

    def database_down(self: object, ids: object) -> None:
        raise Unavailable("database went away")

    with monkeypatch.context() as patched:
        patched.setattr(MemoryOutbox, "mark_sent", database_down)
        with pytest.raises(Unavailable, match="broker went away"):
            world.exchange.relay_outbox(flaky)
    flaky.ok = 10
    world.exchange.relay_outbox(flaky)

    assert _ids(flaky.published) == [request_ids[0], *request_ids]
