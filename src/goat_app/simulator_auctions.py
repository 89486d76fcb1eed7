"""Other groups on ``fixtures/auctions`` for the course simulator (CONTRACT §3, §4b).

``PeerAuctions`` is the simulator's auction desk: every so often another group offers
bonds of an upcoming fixture; when it hears our ``offer`` one or two groups propose their
bonds for it; when it hears our ``proposal`` for one of its offers, that group accepts it
(most of the time) or rejects it a few seconds later; once it accepted one, it rejects
every later proposal for that offer. It only decides messages and when
they are due: the simulator sends them, seeded like the rest, so runs repeat.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from goat_app.simulator_teams import PEER_GROUPS
from goat_core.errors import MalformedMessage
from goat_core.inventory import AuctionMessage, AuctionType
from goat_core.model import Fixture, Outcome
from goat_core.wire import TOPIC_AUCTIONS
from goat_core.wire_auctions import parse_auction, render_auction

__all__ = ["PeerAuctions"]

Due = tuple[datetime, tuple[str, str]]
ANSWER_DELAY = timedelta(seconds=4)
ACCEPT_SHARE = 0.7
"""Share of our proposals the offering group accepts."""


class PeerAuctions:
    """What other groups say on fixtures/auctions, as messages due at given times."""

    def __init__(self, rng: random.Random, group_id: str, every: float) -> None:
        self._random = rng
        self._group_id = group_id
        self._every = every
        self._next: datetime | None = None
        self._offers: dict[str, AuctionMessage] = {}  # theirs, by auction id
        self._closed: set[str] = set()  # theirs that accepted a proposal
        self._answered: set[str] = set()  # our auction and proposal ids already answered

    def tick(self, now: datetime, upcoming: Sequence[Fixture]) -> list[Due]:
        """Another group's offer, when one is due."""
        if self._every <= 0:
            return []
        if self._next is None:
            self._next = now + self._gap()
        if now < self._next or not upcoming:
            return []
        self._next = now + self._gap()
        offer = self._bonds(
            AuctionType.OFFER,
            str(uuid.UUID(int=self._random.getrandbits(128))),
            "",
            self._peer(),
            upcoming,
        )
        self._offers[offer.auction_id] = offer
        return [(now, (TOPIC_AUCTIONS, render_auction(offer)))]

    def heard(self, payload: bytes | str, now: datetime, upcoming: Sequence[Fixture]) -> list[Due]:
        """Answers to our offers (proposals) and to our proposals (acceptance or rejection)."""
        try:
            message = parse_auction(payload)
        except MalformedMessage:
            return []
        if message.group_id != self._group_id:
            return []
        if message.type is AuctionType.OFFER and message.auction_id not in self._answered:
            self._answered.add(message.auction_id)
            if not upcoming:
                return []
            groups = self._random.sample(_peers(self._group_id), self._random.randint(1, 2))
            return [
                (
                    now + ANSWER_DELAY * (i + 1),
                    (
                        TOPIC_AUCTIONS,
                        render_auction(
                            self._bonds(
                                AuctionType.PROPOSAL,
                                message.auction_id,
                                str(uuid.UUID(int=self._random.getrandbits(128))),
                                group,
                                upcoming,
                            )
                        ),
                    ),
                )
                for i, group in enumerate(groups)
            ]
        offer = self._offers.get(message.auction_id)
        if message.type is not AuctionType.PROPOSAL or offer is None:
            return []
        if message.proposal_id in self._answered:
            return []
        self._answered.add(message.proposal_id)
        # one acceptance per auction: every proposal heard after it is rejected (§4b), so
        # that the proposing group gets its bonds back
        accepted = self._random.random() < ACCEPT_SHARE and offer.auction_id not in self._closed
        if accepted:
            self._closed.add(offer.auction_id)
        kind = AuctionType.ACCEPTANCE if accepted else AuctionType.REJECTION
        answer = AuctionMessage(
            offer.auction_id,
            message.proposal_id,
            offer.fixture_id,
            offer.league_name,
            offer.round,
            offer.result,
            offer.quantity,
            offer.group_id,
            kind,
        )
        return [(now + ANSWER_DELAY, (TOPIC_AUCTIONS, render_auction(answer)))]

    def _gap(self) -> timedelta:
        return timedelta(seconds=self._random.expovariate(1 / self._every))

    def _peer(self) -> str:
        return self._random.choice(_peers(self._group_id))

    def _bonds(
        self,
        kind: AuctionType,
        auction_id: str,
        proposal_id: str,
        group: str,
        upcoming: Sequence[Fixture],
    ) -> AuctionMessage:
        fixture = self._random.choice(list(upcoming))
        outcome = self._random.choice(list(Outcome))
        return AuctionMessage(
            auction_id=auction_id,
            proposal_id=proposal_id,
            fixture_id=fixture.id,
            league_name=fixture.league.name,
            round=fixture.league.round,
            result=fixture.wire_result(outcome),
            quantity=self._random.randint(1, 3),
            group_id=group,
            type=kind,
        )


def _peers(group_id: str) -> list[str]:
    return [g for g in PEER_GROUPS if g != group_id]
