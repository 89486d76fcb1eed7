"""The course simulator's other groups trade on fixtures/auctions with our exchange."""

from __future__ import annotations

import random
from datetime import timedelta

from goat_adapters.memory import World, make_fixture
from goat_adapters.memory.world import NOW
from goat_app.simulator import CourseSimulator, SimulatorConfig
from goat_app.simulator_auctions import Due, PeerAuctions
from goat_core.inventory import AuctionMessage, AuctionType, ProposalState
from goat_core.model import Outcome, Viewer
from goat_core.services import BuyBonds
from goat_core.wire import TOPIC_AUCTIONS, TOPIC_REQUESTS, TOPIC_VALIDATION
from goat_core.wire_auctions import parse_auction, render_auction

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


def test_a_simulated_group_rejects_every_proposal_after_its_acceptance() -> None:
    """Once a simulated group accepted one proposal for its offer, each later one is rejected."""
    upcoming = [make_fixture(1)]
    for seed in range(20):
        desk = PeerAuctions(random.Random(seed), "15", every=1.0)
        now = NOW
        due: list[Due] = []
        while not due:
            now += timedelta(seconds=5)
            due = desk.tick(now, upcoming)
        offer = parse_auction(due[0][1][1])
        answers = []
        for proposal_id in ("ours-1", "ours-2", "ours-3"):
            ours = AuctionMessage(
                offer.auction_id,
                proposal_id,
                1,
                "PL",
                "R",
                "Arsenal",
                1,
                "15",
                AuctionType.PROPOSAL,
            )
            heard = desk.heard(render_auction(ours), now, upcoming)
            answers.append([parse_auction(payload).type for _, (_, payload) in heard])
        if answers[0] == [AuctionType.ACCEPTANCE]:
            assert answers[1:] == [[AuctionType.REJECTION], [AuctionType.REJECTION]]
            return
    raise AssertionError("no simulated group accepted in 20 seeds")
