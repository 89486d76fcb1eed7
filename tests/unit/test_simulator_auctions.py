"""The course simulator's other groups trade on fixtures/auctions with our exchange."""

from __future__ import annotations

from datetime import timedelta

from goat_adapters.memory import World
from goat_app.simulator import CourseSimulator, SimulatorConfig
from goat_core.inventory import ProposalState
from goat_core.model import Outcome, Viewer
from goat_core.services import BuyBonds
from goat_core.wire import TOPIC_AUCTIONS, TOPIC_REQUESTS, TOPIC_VALIDATION

ADMIN = Viewer("auth0|admin", admin=True)
CONFIG = SimulatorConfig(seed=3, fixtures=3, purchase_every=0, auction_every=5.0)


class _Course:
    """A simulator wired to a World both ways: what one says, the other hears."""

    def __init__(self) -> None:
        self.world = World()
        self.now = self.world.clock.now()
        self.simulator = CourseSimulator(self._deliver, "15", self.now, CONFIG)
        self.sent = 0

    def _deliver(self, topic: str, payload: str) -> None:
        self.world.exchange.receive(topic, payload)

    def run(self, seconds: int) -> None:
        for _ in range(seconds):
            messages = self.world.store.outbox_messages()
            for message in messages[self.sent :]:  # our publications reach the course
                self.simulator.heard(message.topic, message.payload, self.now)
            self.sent = len(messages)
            self.now += timedelta(seconds=1)
            self.world.clock.advance(seconds=1)
            self.simulator.tick(self.now)


def test_the_simulated_market_trades_with_us() -> None:
    """Other groups offer bonds, propose for our offer and answer our proposal."""
    course = _Course()
    course.run(2)
    fixture = course.world.store.fixtures()[0].id
    course.world.fund(ADMIN.user_id, 10_000)
    course.world.exchange.buy_bonds(
        BuyBonds(ADMIN.user_id, fixture, Outcome.HOME, 6, True, seller=15, admin=True)
    )
    course.run(3)  # the course validates our group purchase
    [lot] = course.world.exchange.group_inventory(ADMIN)

    course.world.exchange.offer_bonds(ADMIN, lot.lot.id, 2)
    course.run(60)

    assert course.world.exchange.received_proposals(ADMIN)
    offers = course.world.exchange.open_offers(ADMIN)
    assert offers
    proposal = course.world.exchange.propose_bonds(ADMIN, offers[0].auction_id, lot.lot.id, 1)
    course.run(10)
    [mine] = course.world.exchange.my_proposals(ADMIN)
    assert mine.proposal_id == proposal.proposal_id
    assert mine.state in (ProposalState.ACCEPTED, ProposalState.REJECTED)
    topics = {m.topic for m in course.world.store.outbox_messages()}
    assert {TOPIC_REQUESTS, TOPIC_AUCTIONS} <= topics
    assert TOPIC_VALIDATION not in topics  # a wallet purchase: the course validated it
