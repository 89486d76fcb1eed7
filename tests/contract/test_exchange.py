"""The use cases of ``Exchange`` give the same answers on every backend."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import attrs
import pytest

from goat_adapters.memory import (
    InMemoryBroker,
    InMemoryJobQueue,
    InMemoryPaymentGateway,
    ManualClock,
    SequentialIds,
)
from goat_core.errors import NotEnoughBonds, NotEnoughMoney
from goat_core.jobs import MakeReceipt
from goat_core.model import LedgerKind, MatchState, Outcome, PurchaseStatus, Rules
from goat_core.services import BuyBonds, Exchange, Handled, PaymentReturn
from goat_core.wire import (
    TOPIC_HISTORY,
    TOPIC_INFO,
    TOPIC_REQUESTS,
    TOPIC_VALIDATION,
    render_fixtures,
    render_history,
)
from tests.contract.builders import NOW, fixture
from tests.contract.conftest import Backend

USER = "auth0|alice"


@attrs.define
class Market:
    """An exchange on one backend, with in-memory payments, jobs and clock."""

    backend: Backend
    payments: InMemoryPaymentGateway = attrs.Factory(
        lambda: InMemoryPaymentGateway(payer_pays=True)
    )
    jobs: InMemoryJobQueue = attrs.Factory(InMemoryJobQueue)
    exchange: Exchange = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.exchange = Exchange(
            uow=self.backend.uow,
            payments=self.payments,
            jobs=self.jobs,
            clock=ManualClock(NOW),
            ids=SequentialIds(),
            rules=Rules(group_id="15", bond_price=1000, bonds_per_fixture=40),
        )
        assert self.exchange.receive(TOPIC_INFO, render_fixtures([fixture(1)])) == Handled.APPLIED

    def buy(self, quantity: int, *, wallet: bool = True, result: Outcome = Outcome.HOME) -> str:
        bought = self.exchange.buy_bonds(
            BuyBonds(USER, 1, result, quantity, wallet, return_url="http://return.invalid")
        )
        return bought.purchase.request_id

    def status(self, request_id: str) -> PurchaseStatus:
        with self.backend.uow() as uow:
            found = uow.purchases.get(request_id)
        assert found is not None
        return found.status

    def available(self) -> int | None:
        with self.backend.uow() as uow:
            found = uow.fixtures.get(1)
        return found.available_bonds if found else None

    def balance(self) -> int:
        with self.backend.uow() as uow:
            user = uow.users.get(USER)
        return user.wallet if user else 0

    def published(self) -> list[tuple[str, dict[str, object]]]:
        broker = InMemoryBroker()
        self.exchange.relay_outbox(broker)
        return [(topic, json.loads(payload)) for topic, payload in broker.published]

    def validate(self, request_id: str, valid: bool, group_id: str = "15") -> str:
        message = {"request_id": request_id, "group_id": group_id, "seller": 0, "valid": valid}
        return self.exchange.receive(TOPIC_VALIDATION, json.dumps(message))

    def peer_request(self, request_id: str, quantity: int) -> str:
        message = {
            "request_id": request_id,
            "group_id": 6,
            "fixture_id": 1,
            "league_name": "Premier League",
            "round": "Regular Season - 12",
            "date": "2024-10-05",
            "result": "---",
            "deposit_token": "",
            "datetime": "2024-10-01T12:00:00 UTC",
            "quantity": quantity,
            "wallet": True,
            "seller": 0,
        }
        return self.exchange.receive(TOPIC_REQUESTS, json.dumps(message))


@pytest.fixture
def market(backend: Backend) -> Market:
    return Market(backend)


def test_wallet_purchase_reserves_debits_and_announces(market: Market) -> None:
    """Buying by wallet takes the bonds and the money at once and queues our request."""
    market.exchange.top_up(USER, 5000)
    request_id = market.buy(3)
    assert market.status(request_id) is PurchaseStatus.PENDING
    assert (market.available(), market.balance()) == (37, 2000)
    [(topic, message)] = market.published()
    assert topic == TOPIC_REQUESTS
    assert message["request_id"] == request_id
    assert (message["quantity"], message["result"], message["group_id"]) == (3, "Arsenal", "15")
    with market.backend.uow() as uow:
        ledger = uow.wallets.ledger(USER)
    assert [(e.amount, e.kind) for e in ledger] == [
        (5000, LedgerKind.TOP_UP),
        (-3000, LedgerKind.PURCHASE),
    ]


def test_failed_purchase_changes_nothing(market: Market) -> None:
    """Without money or without bonds a purchase is refused and leaves no trace."""
    market.exchange.top_up(USER, 2000)
    with pytest.raises(NotEnoughMoney):
        market.buy(3)
    assert market.peer_request("peer-1", 39) == Handled.APPLIED
    with pytest.raises(NotEnoughBonds):
        market.buy(2)
    assert (market.available(), market.balance()) == (1, 2000)
    with market.backend.uow() as uow:
        ours, total = uow.purchases.page_for_user(USER, None, 1, 25)
    assert (ours, total) == ([], 0)
    assert market.published() == []


def test_rejection_refunds_and_gives_bonds_back_once(market: Market) -> None:
    """A negative validation of our wallet purchase refunds it and frees its bonds, once."""
    market.exchange.top_up(USER, 3000)
    request_id = market.buy(3)
    assert market.validate(request_id, valid=False) == Handled.APPLIED
    assert market.validate(request_id, valid=False) == Handled.DUPLICATE
    assert market.validate(request_id, valid=True, group_id="1") == Handled.IGNORED
    assert market.status(request_id) is PurchaseStatus.REJECTED
    assert (market.available(), market.balance()) == (40, 3000)


def test_accepted_purchase_is_settled_once_with_exact_odds(market: Market) -> None:
    """A finished fixture pays an accepted winning bond 1000 × odd into the wallet, once."""
    market.exchange.top_up(USER, 3000)
    request_id = market.buy(3)
    assert market.validate(request_id, valid=True) == Handled.APPLIED
    final = render_history([MatchState(1, "FT", "Match Finished", 90, 2, 1)])
    assert market.exchange.receive(TOPIC_HISTORY, final) == Handled.APPLIED
    assert market.exchange.record_results([MatchState(1, "FT", "Match Finished", 90, 2, 1)]) == 0
    with market.backend.uow() as uow:
        settled = uow.purchases.get(request_id)
    assert settled is not None
    assert (settled.status, settled.payout) == (PurchaseStatus.WON, 5550)  # 3 × 1000 × 1.85
    assert market.balance() == 5550
    assert market.available() == 37  # sold bonds stay sold


def test_webpay_purchase_is_accepted_on_commit_and_answers_the_same_again(
    market: Market,
) -> None:
    """A paid Webpay purchase is accepted and announced once; committing again changes nothing."""
    request_id = market.buy(2, wallet=False)
    assert market.status(request_id) is PurchaseStatus.PENDING_PAYMENT
    with market.backend.uow() as uow:
        pending = uow.purchases.get(request_id)
    assert pending is not None
    token = pending.deposit_token
    first = market.exchange.commit_payment(USER, PaymentReturn(token=token))
    again = market.exchange.commit_payment(USER, PaymentReturn(token=token))
    assert first.status is again.status is PurchaseStatus.ACCEPTED
    assert market.available() == 38
    validations = [m for topic, m in market.published() if topic == TOPIC_VALIDATION]
    assert validations == [{"request_id": request_id, "group_id": "15", "seller": 0, "valid": True}]
    market.exchange.relay_jobs()
    assert MakeReceipt(request_id) in market.jobs.enqueued


def test_refused_webpay_payment_gives_the_bonds_back(market: Market) -> None:
    """A refused payment rejects the purchase and returns exactly its bonds."""
    request_id = market.buy(4, wallet=False)
    with market.backend.uow() as uow:
        pending = uow.purchases.get(request_id)
    assert pending is not None
    market.payments.refuse(pending.deposit_token)
    done = market.exchange.commit_payment(USER, PaymentReturn(token=pending.deposit_token))
    assert done.status is PurchaseStatus.REJECTED
    assert market.available() == 40


def test_duplicate_request_reserves_once(market: Market) -> None:
    """The same peer request received twice reserves its bonds once."""
    assert market.peer_request("peer-1", 5) == Handled.APPLIED
    assert market.peer_request("peer-1", 5) == Handled.DUPLICATE
    assert market.available() == 35


def test_oversized_peer_request_takes_what_is_left_and_gives_back_exactly_that(
    market: Market,
) -> None:
    """A peer asking for more than is left gets the rest; its rejection returns only that."""
    assert market.peer_request("peer-1", 38) == Handled.APPLIED
    assert market.peer_request("peer-2", 5) == Handled.APPLIED
    with market.backend.uow() as uow:
        short = uow.purchases.get("peer-2")
    assert short is not None
    assert (short.quantity, short.reserved, market.available()) == (5, 2, 0)
    assert market.validate("peer-2", valid=False, group_id="6") == Handled.APPLIED
    assert market.available() == 2


def test_validation_before_its_request_is_applied_on_arrival(market: Market) -> None:
    """A validation that arrives first is parked and applied when its request comes."""
    assert market.validate("peer-9", valid=False, group_id="6") == Handled.APPLIED
    assert market.peer_request("peer-9", 3) == Handled.APPLIED
    assert market.status("peer-9") is PurchaseStatus.REJECTED
    assert market.available() == 40


def test_recommendations_are_stored_per_user(market: Market) -> None:
    """recommend() ranks upcoming fixtures by the user's won bonds and stores the result."""
    market.exchange.ingest_fixtures(
        [
            fixture(2, home="Arsenal", away="Spurs", kickoff=datetime(2024, 11, 1, tzinfo=UTC)),
            fixture(3, home="Leeds", away="Wolves", kickoff=datetime(2024, 11, 2, tzinfo=UTC)),
        ]
    )
    market.exchange.top_up(USER, 1000)
    request_id = market.buy(1)
    market.validate(request_id, valid=True)
    market.exchange.record_results([MatchState(1, "FT", None, 90, 1, 0)])
    fresh = market.exchange.recommend(USER)
    with market.backend.uow() as uow:
        stored = uow.recommendations.get(USER)
    assert stored == fresh
    assert [r.fixture_id for r in fresh.items] == [2]
    assert fresh.items[0].pond == Decimal(12) / Decimal("1.85")
