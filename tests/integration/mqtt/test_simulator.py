"""The course simulator: seeded, well-formed traffic, and ``goat serve``'s living exchange."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from goat_adapters.memory import (
    InMemoryJobQueue,
    InMemoryPaymentGateway,
    InMemoryStore,
    SequentialIds,
)
from goat_app.compose import BrokerOptions, Overrides, build_system
from goat_app.settings import Settings
from goat_app.simulator import CourseSimulator, SimulatorConfig
from goat_core.inventory import ProposalState
from goat_core.model import Outcome, PurchaseStatus, Viewer
from goat_core.services import BuyBonds
from goat_core.wire import (
    TOPIC_HISTORY,
    TOPIC_INFO,
    TOPIC_REQUESTS,
    TOPIC_VALIDATION,
    parse_fixtures,
    parse_history,
    parse_request,
    parse_validation,
)
from tests.integration.mqtt.support import wait_until
from tests.servers.mqtt import free_port

START = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)
FAST = SimulatorConfig(
    seed=7,
    fixtures=4,
    first_kickoff=timedelta(seconds=30),
    kickoff_spacing=timedelta(seconds=30),
    match_minutes=1.0,
    purchase_every=1.0,
    validation_delay=1.0,
    info_every=10.0,
    history_every=5.0,
)


def simulate(config: SimulatorConfig, seconds: int) -> list[tuple[str, str]]:
    """Every message a simulator sends in ``seconds`` of simulated time, ticking each second."""
    sent: list[tuple[str, str]] = []
    simulator = CourseSimulator(lambda t, p: sent.append((t, p)), "15", START, config)
    for second in range(seconds + 1):
        simulator.tick(START + timedelta(seconds=second))
    return sent


def test_the_same_seed_sends_the_same_messages() -> None:
    """A seeded simulator is deterministic; another seed tells another story."""
    assert simulate(FAST, 300) == simulate(FAST, 300)
    assert simulate(FAST, 300) != simulate(SimulatorConfig(seed=8, fixtures=4), 300)


def test_every_message_is_in_the_course_format() -> None:
    """Info, requests, validations and history all parse; purchases get validated later."""
    sent = simulate(FAST, 300)
    by_topic: dict[str, list[str]] = {}
    for topic, payload in sent:
        by_topic.setdefault(topic, []).append(payload)

    fixtures = {f.id: f for p in by_topic[TOPIC_INFO] for f in parse_fixtures(p)}
    assert all(f.odds is not None for f in fixtures.values())
    requests = [parse_request(p) for p in by_topic[TOPIC_REQUESTS]]
    assert len(requests) > 100
    assert all(r.group_id != "15" and r.fixture_id in fixtures for r in requests)
    assert all(fixtures[r.fixture_id].outcome_of(r.result) is not None for r in requests)
    verdicts = {v.request_id for p in by_topic[TOPIC_VALIDATION] for v in [parse_validation(p)]}
    assert len(verdicts & {r.request_id for r in requests}) > 0.9 * len(requests)
    results = [r for p in by_topic[TOPIC_HISTORY] for r in parse_history(p)]
    finished = {r.fixture_id for r in results if r.is_final}
    assert len(finished) >= 4  # matches of a minute, kick-offs every 30 s, for 5 minutes


def test_purchases_are_on_fixtures_not_yet_started() -> None:
    """Other groups only buy bonds of fixtures that have not kicked off."""
    sent = simulate(FAST, 300)
    kickoffs = {f.id: f.kickoff for t, p in sent if t == TOPIC_INFO for f in parse_fixtures(p)}
    for topic, payload in sent:
        if topic == TOPIC_REQUESTS:
            request = json.loads(payload)
            bought = datetime.strptime(request["datetime"], "%Y-%m-%dT%H:%M:%S UTC")
            assert bought.replace(tzinfo=UTC) < kickoffs[request["fixture_id"]]


def test_the_course_validates_our_wallet_purchases_only() -> None:
    """Heard on fixtures/requests: our wallet purchases get a verdict, others' and Webpay's not."""
    sent: list[tuple[str, str]] = []
    config = SimulatorConfig(seed=1, purchase_every=0, reject_share=0)
    simulator = CourseSimulator(lambda t, p: sent.append((t, p)), "15", START, config)
    ours = {"request_id": "ours", "group_id": "15", "wallet": True}
    simulator.heard(TOPIC_REQUESTS, json.dumps(ours), START)
    simulator.heard(TOPIC_REQUESTS, json.dumps(ours), START)  # a repeat: one verdict
    simulator.heard(
        TOPIC_REQUESTS, json.dumps({**ours, "request_id": "webpay", "wallet": False}), START
    )
    simulator.heard(
        TOPIC_REQUESTS, json.dumps({**ours, "request_id": "peer", "group_id": 3}), START
    )
    simulator.heard(TOPIC_REQUESTS, "not json", START)
    simulator.tick(START + timedelta(seconds=5))

    verdicts = [json.loads(p) for t, p in sent if t == TOPIC_VALIDATION]
    assert verdicts == [{"request_id": "ours", "group_id": "15", "seller": 0, "valid": True}]


@pytest.mark.integration
def test_serve_without_a_broker_url_shows_a_living_exchange(tmp_path: Path) -> None:
    """Embedded broker, simulator and listener: peers trade, and our purchase gets validated."""
    store = InMemoryStore()
    config = SimulatorConfig(seed=3, fixtures=3, purchase_every=0.2, validation_delay=0.2)
    system = build_system(
        Settings(data_dir=tmp_path),
        broker=BrokerOptions(embedded_port=free_port(), simulator=config),
        overrides=Overrides(
            uow=store.unit_of_work,
            payments=InMemoryPaymentGateway(),
            jobs=InMemoryJobQueue(),
            ids=SequentialIds(),
        ),
    )
    exchange, side = system.exchange, system.broker
    assert side is not None
    try:
        wait_until(lambda: len(store.fixtures()) == 3, what="fixtures from the simulator")
        wait_until(
            lambda: any(p.status is PurchaseStatus.ACCEPTED for p in store.purchases()),
            what="a peer purchase validated by the course",
        )
        exchange.top_up("alice", 5_000)
        fixture = min(store.fixtures(), key=lambda f: f.kickoff)
        bought = exchange.buy_bonds(BuyBonds("alice", fixture.id, Outcome.AWAY, 2, wallet=True))
        side.wake()

        def ours() -> PurchaseStatus:
            return next(
                p for p in store.purchases() if p.request_id == bought.purchase.request_id
            ).status

        wait_until(lambda: ours() is not PurchaseStatus.PENDING, what="the course's verdict")
        assert ours() is PurchaseStatus.ACCEPTED
        assert system.broker_state() == "connected"
        counters = side.counters.snapshot()
        assert counters["published"] >= 1
        assert counters["malformed"] == 0
    finally:
        system.close()
    assert side.stopped.is_set()


@pytest.mark.integration
def test_serve_shows_a_living_auction_market(tmp_path: Path) -> None:
    """With goat serve's simulator, other groups offer bonds, propose for our offer and
    answer our proposal over the embedded broker."""
    store = InMemoryStore()
    config = SimulatorConfig(seed=5, fixtures=3, purchase_every=0, auction_every=0.5)
    system = build_system(
        Settings(data_dir=tmp_path),
        broker=BrokerOptions(embedded_port=free_port(), simulator=config),
        overrides=Overrides(
            uow=store.unit_of_work,
            payments=InMemoryPaymentGateway(),
            jobs=InMemoryJobQueue(),
            ids=SequentialIds(),
        ),
    )
    exchange, side = system.exchange, system.broker
    admin = Viewer("auth0|boss", admin=True)
    assert side is not None
    try:
        wait_until(lambda: len(store.fixtures()) == 3, what="fixtures from the simulator")
        wait_until(lambda: exchange.open_offers(admin), what="another group's offer")
        exchange.top_up(admin.user_id, 5_000)
        fixture = min(store.fixtures(), key=lambda f: f.kickoff)
        command = BuyBonds(admin.user_id, fixture.id, Outcome.HOME, 5, True, seller=15, admin=True)
        exchange.buy_bonds(command)
        side.wake()
        wait_until(lambda: exchange.group_inventory(admin), what="the course's verdict")
        lot = exchange.group_inventory(admin)[0].lot.id

        exchange.offer_bonds(admin, lot, 2)
        proposal = exchange.propose_bonds(admin, exchange.open_offers(admin)[0].auction_id, lot, 1)
        side.wake()

        wait_until(lambda: exchange.received_proposals(admin), what="a proposal for our offer")
        wait_until(
            lambda: exchange.my_proposals(admin)[0].state is not ProposalState.PENDING,
            what="an answer to our proposal",
        )
        assert exchange.my_proposals(admin)[0].proposal_id == proposal.proposal_id
        assert side.counters.snapshot()["malformed"] == 0
    finally:
        system.close()
