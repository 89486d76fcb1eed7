"""A whole trade between two goat installations over a real broker (CONTRACT §4b).

Group 15 and group 6 each run an exchange on a database of its own, with its listener and
outbox relay on one broker; the course (a peer) announces a fixture and validates both
admins' group purchases. Group 15 offers, group 6 proposes, group 15 accepts; afterwards
each side's inventory holds what it kept and what it received, once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from functools import partial

import pytest

from goat_adapters.memory import (
    InMemoryJobQueue,
    InMemoryPaymentGateway,
    ManualClock,
    SequentialIds,
)
from goat_adapters.mqtt import BrokerAddress
from goat_adapters.sql import SqlDatabase
from goat_app.broker import BrokerSide
from goat_app.compose import start_broker_side
from goat_core.inventory import LotStatus, Origin, ProposalState
from goat_core.model import Outcome, Rules, Viewer
from goat_core.services import BuyBonds, Exchange
from goat_core.wire import TOPIC_AUCTIONS, TOPIC_INFO, TOPIC_VALIDATION, render_fixtures
from tests.contract.builders import NOW, fixture
from tests.integration.mqtt.support import Peer, wait_until
from tests.servers.mqtt import MqttServer

pytestmark = pytest.mark.integration

ADMIN = Viewer("auth0|admin", admin=True)


class Installation:
    """One group's goat: an exchange on its own database, and its broker side."""

    def __init__(self, group: str, url: str, broker: MqttServer) -> None:
        self.group = group
        self.database = SqlDatabase(url)
        self.exchange = Exchange(
            uow=self.database.unit_of_work,
            payments=InMemoryPaymentGateway(),
            jobs=InMemoryJobQueue(),
            clock=ManualClock(NOW),
            ids=_Ids(group),
            rules=Rules(group_id=group),
        )
        self.side: BrokerSide = start_broker_side(
            BrokerAddress.from_url(broker.url),
            f"goat-{group}-{uuid.uuid4().hex[:6]}",
            self.exchange,
            relay_interval=0.05,
        )
        assert self.side.listener.wait_subscribed(10)
        assert self.side.publisher.wait_connected(10)

    def stock(self, course: Peer, result: Outcome, quantity: int) -> str:
        """The admin buys for the group, the course validates it; the lot's id."""
        self.exchange.top_up(ADMIN.user_id, quantity * 1000)
        command = BuyBonds(
            ADMIN.user_id, 1, result, quantity, True, seller=int(self.group), admin=True
        )
        request_id = self.exchange.buy_bonds(command).purchase.request_id
        verdict = {"request_id": request_id, "group_id": 1, "seller": 0, "valid": True}
        course.send(TOPIC_VALIDATION, verdict)
        wait_until(lambda: self.exchange.group_inventory(ADMIN), what=f"group {self.group}'s lot")
        return self.exchange.group_inventory(ADMIN)[0].lot.id

    def inventory(self) -> list[tuple[Outcome, int, LotStatus, Origin]]:
        views = self.exchange.group_inventory(ADMIN)
        return sorted((v.lot.result, v.lot.quantity, v.lot.status, v.lot.origin) for v in views)

    def close(self) -> None:
        self.side.stop()
        self.database.dispose()


def _fixtures(side: Installation, count: int) -> bool:
    """Whether the installation stores ``count`` fixtures."""
    return side.exchange.fixtures().total == count


class _Ids(SequentialIds):
    """Ids that differ between the installations (both start counting at 1)."""

    def __init__(self, group: str) -> None:
        super().__init__()
        self._group = group

    def new_id(self) -> str:
        return f"g{self._group}-{super().new_id()}"


@pytest.fixture
def installations(
    broker: MqttServer, database_url: str, sqlite_url: str
) -> Iterator[tuple[Installation, Installation]]:
    """Group 15 (on the test's database) and group 6 (on a SQLite file) on one broker."""
    ours = Installation("15", database_url, broker)
    theirs = Installation("6", sqlite_url, broker)
    yield ours, theirs
    ours.close()
    theirs.close()


def test_a_whole_trade_between_two_installations(
    installations: tuple[Installation, Installation], peer: Peer
) -> None:
    """Offer, proposal and acceptance travel the broker; each side swaps once."""
    ours, theirs = installations
    peer.send(TOPIC_INFO, render_fixtures([fixture(1)]))
    for side in installations:
        wait_until(partial(_fixtures, side, 1), what="the fixture")
    our_lot = ours.stock(peer, Outcome.HOME, 10)
    their_lot = theirs.stock(peer, Outcome.AWAY, 8)

    offer = ours.exchange.offer_bonds(ADMIN, our_lot, 3)
    wait_until(lambda: theirs.exchange.open_offers(ADMIN), what="the offer at group 6")
    proposal = theirs.exchange.propose_bonds(ADMIN, offer.auction_id, their_lot, 5)
    wait_until(lambda: ours.exchange.received_proposals(ADMIN), what="the proposal at group 15")
    ours.exchange.accept_proposal(ADMIN, proposal.proposal_id)

    def accepted() -> bool:
        [mine] = theirs.exchange.my_proposals(ADMIN)
        return mine.state is ProposalState.ACCEPTED

    wait_until(accepted, what="the acceptance at group 6")
    wait_until(lambda: len(theirs.inventory()) == 2, what="group 6's received lot")
    expected = (
        [
            (Outcome.AWAY, 5, LotStatus.HELD, Origin.AUCTION),
            (Outcome.HOME, 7, LotStatus.HELD, Origin.PURCHASE),
        ],
        [
            (Outcome.AWAY, 3, LotStatus.HELD, Origin.PURCHASE),
            (Outcome.HOME, 3, LotStatus.HELD, Origin.AUCTION),
        ],
    )
    assert (ours.inventory(), theirs.inventory()) == expected
    assert theirs.exchange.open_offers(ADMIN) == []

    # the acceptance comes again, twice: nothing changes (a later fixture marks the end)
    again = {
        "auction_id": offer.auction_id,
        "proposal_id": proposal.proposal_id,
        "fixture_id": 1,
        "league_name": offer.league_name,
        "round": offer.round,
        "result": offer.result,
        "quantity": 3,
        "group_id": 15,
        "type": "acceptance",
    }
    peer.send(TOPIC_AUCTIONS, json.dumps(again), times=2)
    peer.send(TOPIC_INFO, render_fixtures([fixture(2)]))
    for side in installations:
        wait_until(partial(_fixtures, side, 2), what="the marker")
    assert (ours.inventory(), theirs.inventory()) == expected
