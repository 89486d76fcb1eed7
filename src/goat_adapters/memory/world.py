"""``World``: the whole core on the in-memory adapters, in one line, for tests.

::

    from goat_adapters.memory import World, make_fixture

    world = World()                      # an Exchange over InMemoryStore, ManualClock, ...
    world.add_fixtures(make_fixture(1))  # as if fixtures/info said so
    world.fund("alice", 5000)
    bought = world.buy("alice", fixture_id=1, quantity=2)
    assert world.balance("alice") == 3000
    assert world.published("fixtures/requests")[0]["request_id"] == bought.purchase.request_id

Every port is a public in-memory adapter you can reach and steer (``world.clock.advance``,
``world.payments.refuse``, ``world.jobs.enqueued`` after ``world.relay_jobs()``,
``world.store``). The payer of every
Webpay payment pays at once unless told otherwise (``InMemoryPaymentGateway.payer_pays``).
``world.exchange_with(geolocator=...)`` is another exchange over the same state with
some ports of your own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs

from goat_adapters.memory.doubles import (
    InMemoryBroker,
    InMemoryJobQueue,
    InMemoryPaymentGateway,
    InMemoryReceiptStore,
    ManualClock,
    SequentialIds,
)
from goat_adapters.memory.notices import InMemoryMailer, InMemoryReceiptRenderer
from goat_adapters.memory.store import InMemoryStore
from goat_core.jobs import Job
from goat_core.model import (
    Fixture,
    League,
    LedgerEntry,
    MatchState,
    Odds,
    Outcome,
    Purchase,
    Rules,
    Team,
)
from goat_core.services import Bought, BuyBonds, Exchange, Handled
from goat_core.wire import (
    TOPIC_HISTORY,
    TOPIC_INFO,
    TOPIC_REQUESTS,
    TOPIC_VALIDATION,
    render_fixtures,
    render_history,
)

__all__ = ["KICKOFF", "NOW", "World", "make_fixture", "request_payload"]

NOW = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)
"""Where a ``World``'s clock starts."""
KICKOFF = datetime(2024, 10, 5, 14, 0, tzinfo=UTC)
"""When ``make_fixture``'s fixtures kick off by default (four days after ``NOW``)."""


def make_fixture(
    fixture_id: int = 1,
    *,
    home: str = "Arsenal",
    away: str = "Chelsea",
    kickoff: datetime = KICKOFF,
    status: str = "NS",
    odds: Odds | None = None,
    league_round: str = "Regular Season - 12",
    goals: tuple[int | None, int | None] = (None, None),
) -> Fixture:
    """A Premier League fixture, not started, with odds; every field can be changed."""
    return Fixture(
        id=fixture_id,
        kickoff=kickoff,
        league=League(id=39, name="Premier League", round=league_round),
        home=Team(id=fixture_id * 10, name=home),
        away=Team(id=fixture_id * 10 + 1, name=away),
        status=status,
        goals_home=goals[0],
        goals_away=goals[1],
        odds=odds or Odds(Decimal("1.85"), Decimal("3.40"), Decimal("4.10")),
    )


def request_payload(
    request_id: str = "peer-1",
    *,
    fixture_id: int = 1,
    quantity: int = 1,
    result: str = "Arsenal",
    group_id: str | int = "6",
    wallet: bool = True,
) -> dict[str, Any]:
    """A fixtures/requests message of another group, in the CONTRACT §3 shape."""
    return {
        "request_id": request_id,
        "group_id": group_id,
        "fixture_id": fixture_id,
        "league_name": "Premier League",
        "round": "Regular Season - 12",
        "date": "2024-10-05",
        "result": result,
        "deposit_token": "",
        "datetime": "2024-10-01T18:22:05 UTC",
        "quantity": quantity,
        "wallet": wallet,
        "seller": 0,
    }


@attrs.define
class World:
    """One group's exchange on in-memory adapters, with shortcuts for what tests do often."""

    rules: Rules = attrs.Factory(Rules)
    store: InMemoryStore = attrs.Factory(InMemoryStore)
    payments: InMemoryPaymentGateway = attrs.Factory(
        lambda: InMemoryPaymentGateway(payer_pays=True)
    )
    jobs: InMemoryJobQueue = attrs.Factory(InMemoryJobQueue)
    clock: ManualClock = attrs.Factory(lambda: ManualClock(NOW))
    ids: SequentialIds = attrs.Factory(SequentialIds)
    broker: InMemoryBroker = attrs.Factory(InMemoryBroker)
    receipts: InMemoryReceiptStore = attrs.Factory(InMemoryReceiptStore)
    renderer: InMemoryReceiptRenderer = attrs.Factory(InMemoryReceiptRenderer)
    mailer: InMemoryMailer = attrs.Factory(InMemoryMailer)
    exchange: Exchange = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.exchange = self.exchange_with()

    def exchange_with(self, **ports: Any) -> Exchange:
        """Another exchange over this world's state, with ``ports`` (``Exchange``'s keyword
        arguments: a geolocator, a unit of work that fails, ...) in place of the world's."""
        own: dict[str, Any] = {
            "uow": self.store.unit_of_work,
            "payments": self.payments,
            "jobs": self.jobs,
            "clock": self.clock,
            "ids": self.ids,
            "rules": self.rules,
            "receipts": self.receipts,
            "renderer": self.renderer,
            "mailer": self.mailer,
        }
        return Exchange(**(own | ports))

    # -- acting ------------------------------------------------------------------------

    def add_fixtures(self, *fixtures: Fixture) -> Handled:
        """Store fixtures as a fixtures/info message would."""
        return self.exchange.receive(TOPIC_INFO, render_fixtures(list(fixtures)))

    def fund(self, user_id: str, amount: int) -> int:
        """Top a wallet up; the new balance."""
        return self.exchange.top_up(user_id, amount)

    def buy(
        self,
        user_id: str = "auth0|alice",
        fixture_id: int = 1,
        result: Outcome | str = Outcome.HOME,
        quantity: int = 1,
        *,
        wallet: bool = True,
    ) -> Bought:
        """Buy bonds for one of our users (by wallet unless ``wallet=False``)."""
        return self.exchange.buy_bonds(
            BuyBonds(user_id, fixture_id, result, quantity, wallet, return_url="http://r.invalid")
        )

    def relay_jobs(self) -> list[Job]:
        """Hand the job outbox to ``jobs`` as the job relay would; the jobs queued by it."""
        before = len(self.jobs.enqueued)
        self.exchange.relay_jobs()
        return self.jobs.enqueued[before:]

    def peer_request(self, request_id: str = "peer-1", **fields: Any) -> Handled:
        """Another group's purchase arrives (fields as ``request_payload`` takes them)."""
        payload = request_payload(request_id, **fields)
        return self.exchange.receive(TOPIC_REQUESTS, json.dumps(payload))

    def validate(self, request_id: str, valid: bool, group_id: str | int = "1") -> Handled:
        """A fixtures/validation verdict arrives."""
        payload = {"request_id": request_id, "group_id": group_id, "seller": 0, "valid": valid}
        return self.exchange.receive(TOPIC_VALIDATION, json.dumps(payload))

    def result(
        self, fixture_id: int, status: str, home: int | None = None, away: int | None = None
    ) -> Handled:
        """A fixtures/history entry arrives: the fixture's status and goals."""
        history = render_history([MatchState(fixture_id, status, None, None, home, away)])
        return self.exchange.receive(TOPIC_HISTORY, history)

    # -- looking -----------------------------------------------------------------------

    def fixture(self, fixture_id: int = 1) -> Fixture:
        """A stored fixture, with its availability."""
        return next(f for f in self.store.fixtures() if f.id == fixture_id)

    def available(self, fixture_id: int = 1) -> int:
        """Bonds still on sale for a fixture."""
        available = self.fixture(fixture_id).available_bonds
        assert available is not None
        return available

    def purchase(self, request_id: str) -> Purchase:
        """A stored purchase, ours or another group's."""
        return next(p for p in self.store.purchases() if p.request_id == request_id)

    def balance(self, user_id: str = "auth0|alice") -> int:
        """A wallet's balance (0 for a user never seen)."""
        return next((u.wallet for u in self.store.users() if u.id == user_id), 0)

    def ledger(self, user_id: str = "auth0|alice") -> list[LedgerEntry]:
        """Every movement of a wallet, oldest first."""
        return [e for e in self.store.ledger() if e.user_id == user_id]

    def published(self, topic: str) -> list[dict[str, Any]]:
        """Every message written to the outbox on ``topic``, decoded, oldest first."""
        return [json.loads(m.payload) for m in self.store.outbox_messages() if m.topic == topic]

    def snapshot(self) -> tuple[object, ...]:
        """Everything the committed state holds, to show that an operation changed nothing."""
        return (
            self.store.fixtures(),
            self.store.purchases(),
            self.store.users(),
            self.store.ledger(),
            self.store.outbox_messages(),
        )
