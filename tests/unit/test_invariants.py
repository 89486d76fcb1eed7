"""The exchange's invariants under any interleaving of what users, peers and the course do.

A Hypothesis state machine drives one group's exchange (on the in-memory adapters) with
our wallet and Webpay purchases and their payment returns, other groups' purchases,
validations (repeated, conflicting, before their request), results (repeated, finished
or not), top-ups, clock moves and the outbox relay with its echoes, and checks after
every step that bonds, money and settlements add up (CONTRACT §2).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from goat_core.errors import FixtureStarted, GoatError, NotEnoughBonds, NotEnoughMoney, Unavailable
from goat_core.model import (
    HOLDING_STATUSES,
    LedgerKind,
    Outcome,
    Purchase,
    PurchaseStatus,
    Rules,
    payout,
)
from goat_core.services import Handled, PaymentReturn
from goat_core.wire import TOPIC_HISTORY, TOPIC_REQUESTS, TOPIC_VALIDATION
from tests import strategies
from tests.unit.support import NOW, World, make_fixture, request_payload

BONDS = 6
"""Few bonds per fixture, so that sell-outs and partial peer purchases happen often."""

FIXTURES = (1, 2, 3)
USERS = ("auth0|alice", "auth0|bob")
PEER_IDS = tuple(f"peer-{i}" for i in range(6))

S = PurchaseStatus
LATER = {
    S.PENDING_PAYMENT: {S.ACCEPTED, S.REJECTED, S.WON, S.LOST},
    S.PENDING: {S.ACCEPTED, S.REJECTED, S.WON, S.LOST},
    S.ACCEPTED: {S.WON, S.LOST},
    S.REJECTED: set(),
    S.WON: set(),
    S.LOST: set(),
}
"""Where a purchase may be after one step, given where it was (a step may chain two moves)."""

fixture_ids = st.sampled_from(FIXTURES)
users = st.sampled_from(USERS)
quantities = st.integers(min_value=1, max_value=BONDS)
wire_results = st.sampled_from(["Arsenal", "Chelsea", "---", "home", "away", "draw"])
statuses = st.sampled_from(["NS", "1H", "HT", "2H", "FT", "FT", "AET", "PEN"])
goals = st.sampled_from([None, 0, 1, 2])
money = st.integers(min_value=1, max_value=8).map(lambda n: n * 1000) | st.integers(1, 6000)


class ExchangeMachine(RuleBasedStateMachine):
    """One group's exchange, driven by random steps; a model tracks what must hold."""

    ours = Bundle("ours")
    webpay = Bundle("webpay")

    def __init__(self) -> None:
        super().__init__()
        self.world = World(rules=Rules(bonds_per_fixture=BONDS))
        self.world.add_fixtures(
            make_fixture(1, kickoff=NOW + timedelta(days=2)),
            make_fixture(2, kickoff=NOW + timedelta(days=4)),
            make_fixture(3, kickoff=NOW + timedelta(days=6)),
        )
        self.top_ups = 0
        self.parked: dict[str, bool] = {}
        self.received: list[tuple[str, str]] = []
        self.statuses: dict[str, PurchaseStatus] = {}

    # -- helpers ---------------------------------------------------------------------

    def find(self, request_id: str) -> Purchase | None:
        return next((p for p in self.world.store.purchases() if p.request_id == request_id), None)

    def receive(self, topic: str, payload: str) -> str:
        before = self.world.snapshot()
        answer = self.world.exchange.receive(topic, payload)
        assert answer != Handled.MALFORMED  # every message made here is well formed
        if answer == Handled.DUPLICATE:
            assert self.world.snapshot() == before
        self.received.append((topic, payload))
        return answer

    def expected_failure(
        self, user: str, fixture_id: int, quantity: int, wallet: bool
    ) -> type[GoatError] | None:
        """Which refusal the contract demands for this purchase, checked in the core's order."""
        fixture = self.world.fixture(fixture_id)
        if fixture.has_started(self.world.clock.now()):
            return FixtureStarted
        if self.world.available(fixture_id) < quantity:
            return NotEnoughBonds
        if wallet and self.world.balance(user) < quantity * 1000:
            return NotEnoughMoney
        return None

    def buy(self, user: str, fixture_id: int, outcome: Outcome, quantity: int, wallet: bool) -> str:
        expected = self.expected_failure(user, fixture_id, quantity, wallet)
        if expected is None:
            return self.world.buy(
                user, fixture_id, outcome, quantity, wallet=wallet
            ).purchase.request_id
        before = self.world.snapshot()
        with pytest.raises(expected):
            self.world.buy(user, fixture_id, outcome, quantity, wallet=wallet)
        assert self.world.snapshot() == before
        return ""

    # -- what our users do -----------------------------------------------------------

    @initialize(amounts=st.tuples(money, money))
    def open_wallets(self, amounts: tuple[int, int]) -> None:
        for user, amount in zip(USERS, amounts, strict=True):
            self.top_up(user, amount)

    @rule(user=users, amount=money)
    def top_up(self, user: str, amount: int) -> None:
        self.world.fund(user, amount)
        self.top_ups += amount

    @rule(
        target=ours, user=users, fixture_id=fixture_ids, outcome=strategies.outcomes, q=quantities
    )
    def buy_with_wallet(self, user: str, fixture_id: int, outcome: Outcome, q: int) -> object:
        request_id = self.buy(user, fixture_id, outcome, q, wallet=True)
        return request_id or multiple()

    @rule(
        targets=(ours, webpay),
        user=users,
        fixture_id=fixture_ids,
        outcome=strategies.outcomes,
        q=quantities,
    )
    def buy_with_webpay(self, user: str, fixture_id: int, outcome: Outcome, q: int) -> object:
        request_id = self.buy(user, fixture_id, outcome, q, wallet=False)
        return request_id or multiple()

    @rule(request_id=webpay, how=st.sampled_from(["pay", "refuse", "cancel", "timeout"]))
    def return_from_webpay(self, request_id: str, how: str) -> None:
        purchase = self.find(request_id)
        assert purchase is not None
        assert purchase.user_id is not None
        if how == "refuse":
            self.world.payments.refuse(purchase.deposit_token)
        back = {
            "pay": PaymentReturn(token=purchase.deposit_token),
            "refuse": PaymentReturn(token=purchase.deposit_token),
            "cancel": PaymentReturn(purchase.deposit_token, purchase.buy_order, cancelled=True),
            "timeout": PaymentReturn(buy_order=purchase.buy_order),
        }[how]

        final = self.world.exchange.commit_payment(purchase.user_id, back)

        if purchase.status is not S.PENDING_PAYMENT:
            assert final.status is purchase.status
        elif how == "pay":
            assert final.status in {S.ACCEPTED, S.WON, S.LOST}
        else:
            assert final.status is S.REJECTED

    # -- what peers and the course say -----------------------------------------------

    @rule(
        request_id=st.sampled_from(PEER_IDS),
        fixture_id=fixture_ids,
        quantity=st.integers(min_value=1, max_value=BONDS + 2),
        result=wire_results,
        group_id=strategies.group_ids,
    )
    def peer_purchase(
        self, request_id: str, fixture_id: int, quantity: int, result: str, group_id: int | str
    ) -> None:
        known = self.find(request_id)
        available = self.world.available(fixture_id)
        payload = request_payload(
            request_id, fixture_id=fixture_id, quantity=quantity, result=result, group_id=group_id
        )

        answer = self.receive(TOPIC_REQUESTS, json.dumps(payload))

        if answer != Handled.APPLIED:
            assert self.find(request_id) == known
            return
        assert known is None
        assert str(group_id) != "15"
        created = self.find(request_id)
        assert created is not None
        assert created.reserved == min(quantity, available)
        verdict = self.parked.pop(request_id, None)
        if verdict is None:
            assert created.status is S.PENDING
        elif verdict:
            assert created.status in {S.ACCEPTED, S.WON, S.LOST}
        else:
            assert created.status is S.REJECTED
            assert self.world.available(fixture_id) == available

    def validate(self, request_id: str, valid: bool, group_id: int | str) -> None:
        before = self.find(request_id)
        payload = {"request_id": request_id, "group_id": group_id, "seller": 0, "valid": valid}

        answer = self.receive(TOPIC_VALIDATION, json.dumps(payload))

        after = self.find(request_id)
        if answer == Handled.DUPLICATE:
            return
        if before is None:
            assert after is None
            self.parked.setdefault(request_id, valid)
        elif before.status is S.PENDING:
            assert after is not None
            assert after.status in ({S.ACCEPTED, S.WON, S.LOST} if valid else {S.REJECTED})
        else:
            assert after == before

    @rule(request_id=st.sampled_from(PEER_IDS), valid=st.booleans(), group_id=strategies.group_ids)
    def validate_peer(self, request_id: str, valid: bool, group_id: int | str) -> None:
        self.validate(request_id, valid, group_id)

    @rule(request_id=ours, valid=st.booleans())
    def validate_ours(self, request_id: str, valid: bool) -> None:
        self.validate(request_id, valid, "1")

    @rule(fixture_id=fixture_ids, status=statuses, home=goals, away=goals)
    def result(self, fixture_id: int, status: str, home: int | None, away: int | None) -> None:
        history = {
            "fixtures": [
                {
                    "fixture": {"id": fixture_id, "status": {"short": status}},
                    "goals": {"home": home, "away": away},
                }
            ]
        }
        self.receive(TOPIC_HISTORY, json.dumps(history))

    @rule(
        fixture_id=fixture_ids,
        status=st.sampled_from(["FT", "AET", "PEN"]),
        home=st.integers(0, 2),
        away=st.integers(0, 2),
    )
    def final_result(self, fixture_id: int, status: str, home: int, away: int) -> None:
        """Final results get a rule of their own, so that settlements happen often."""
        self.result(fixture_id, status, home, away)

    @precondition(lambda self: self.received)
    @rule(data=st.data())
    def redeliver(self, data: st.DataObject) -> None:
        topic, payload = data.draw(st.sampled_from(self.received))
        before = self.world.snapshot()
        ours = topic == TOPIC_REQUESTS and str(json.loads(payload)["group_id"]) == "15"

        # a request in our group's name is looked up, never remembered: "ignored" each time
        assert self.receive(topic, payload) == (Handled.IGNORED if ours else Handled.DUPLICATE)
        assert self.world.snapshot() == before

    @rule(hours=st.integers(min_value=1, max_value=12))
    def time_passes(self, hours: int) -> None:
        self.world.clock.advance(hours=hours)

    @rule(down=st.booleans())
    def relay_and_echo(self, down: bool) -> None:
        """Our publications go out (or wait), and their echoes from the broker change nothing."""
        broker = self.world.broker
        broker.down = down
        sent_before = len(broker.published)
        with self.world.store.unit_of_work() as uow:
            backlog = uow.outbox.backlog()
        try:
            self.world.exchange.relay_outbox(broker)
        except Unavailable:
            assert down
            assert backlog
            return
        assert len(broker.published) - sent_before == backlog
        state = self.world.snapshot()[:4]
        for topic, payload in broker.published[sent_before:]:
            assert self.world.exchange.receive(topic, payload) in {
                Handled.IGNORED,
                Handled.DUPLICATE,
            }
        assert self.world.snapshot()[:4] == state

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def availability_is_initial_minus_held_bonds(self) -> None:
        purchases = self.world.store.purchases()
        for fixture_id in FIXTURES:
            held = sum(
                p.reserved
                for p in purchases
                if p.fixture_id == fixture_id and p.status in HOLDING_STATUSES
            )
            available = self.world.available(fixture_id)
            assert available >= 0
            assert available == BONDS - held
        for p in purchases:
            assert 0 <= p.reserved <= p.quantity
            assert p.reserved == p.quantity or not p.is_ours

    @invariant()
    def wallets_are_their_ledgers(self) -> None:
        for user in self.world.store.users():
            assert user.wallet >= 0
            assert user.wallet == sum(e.amount for e in self.world.ledger(user.id))

    @invariant()
    def settlement_happens_once_and_pays_the_rule(self) -> None:
        purchases = {p.request_id: p for p in self.world.store.purchases()}
        payouts = [e for e in self.world.store.ledger() if e.kind is LedgerKind.PAYOUT]
        counts = Counter(e.reference for e in payouts)
        assert all(n == 1 for n in counts.values())
        for entry in payouts:
            assert entry.reference is not None
            purchase = purchases[entry.reference]
            assert purchase.status is S.WON
            assert purchase.user_id == entry.user_id
            assert entry.amount == purchase.payout
        for p in purchases.values():
            fixture = self.world.fixture(p.fixture_id)
            if p.status not in {S.WON, S.LOST}:
                assert p.payout is None
            elif p.status is S.LOST or not p.is_ours:
                assert p.payout == 0
            else:
                assert fixture.odds is not None
                odd = fixture.odds.for_outcome(p.result)
                assert p.payout == payout(p.quantity, 1000, odd)
                assert counts[p.request_id] == 1

    @invariant()
    def statuses_only_move_forward(self) -> None:
        for p in self.world.store.purchases():
            was = self.statuses.get(p.request_id)
            if was is not None and p.status is not was:
                assert p.status in LATER[was], f"{p.request_id}: {was} -> {p.status}"
            if p.status in {S.WON, S.LOST} and was not in {S.WON, S.LOST}:
                fixture = self.world.fixture(p.fixture_id)
                assert fixture.is_finished
                assert (p.status is S.WON) == (fixture.winner == p.result)
            self.statuses[p.request_id] = p.status

    @invariant()
    def money_is_conserved(self) -> None:
        wallet_purchases = [p for p in self.world.store.purchases() if p.is_ours and p.wallet]
        debits = sum(p.quantity * 1000 for p in wallet_purchases)
        refunds = sum(p.quantity * 1000 for p in wallet_purchases if p.status is S.REJECTED)
        payouts = sum(p.payout or 0 for p in self.world.store.purchases() if p.is_ours)
        balances = sum(u.wallet for u in self.world.store.users())
        assert balances == self.top_ups - debits + refunds + payouts

    @invariant()
    def each_of_ours_is_announced_once(self) -> None:
        requests = Counter(m["request_id"] for m in self.world.published(TOPIC_REQUESTS))
        validations = {}
        for message in self.world.published(TOPIC_VALIDATION):
            assert message["request_id"] not in validations
            validations[message["request_id"]] = message["valid"]
        for p in self.world.store.purchases():
            if not p.is_ours:
                assert p.request_id not in requests
                continue
            assert requests[p.request_id] == 1
            if p.wallet or p.status is S.PENDING_PAYMENT:
                assert p.request_id not in validations
            else:
                assert validations[p.request_id] == (p.status is not S.REJECTED)


ExchangeMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_exchange_invariants = ExchangeMachine.TestCase
test_exchange_invariants.__doc__ = (
    "Bonds, wallets, settlements and announcements add up after every step of any interleaving."
)
