"""The group's books under any interleaving of admins, users, peers and the broker (§4b).

A Hypothesis state machine drives one group's exchange (on the in-memory adapters) with
the admin's group purchases and their validations, resales to users, offers, proposals
and their answers from both sides, and results; every broker message is held "in
flight" and delivered in any order, possibly twice. After every step it checks that
bonds are conserved (the inventory plus what users hold plus what was traded away is
what the group bought plus what it received), no lot is negative, every swap and every
payout happened once, the account's payouts are exactly the winning lots the group held
when they were settled (never a traded one), and money is conserved between wallets and
the group's account.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from goat_core.errors import GoatError
from goat_core.inventory import AccountKind, LotStatus, ProposalState
from goat_core.model import LedgerKind, MatchState, Outcome, PurchaseStatus, Viewer, payout
from goat_core.services import BuyBonds
from goat_core.wire import TOPIC_AUCTIONS, TOPIC_HISTORY, TOPIC_VALIDATION, render_history
from tests.unit.group_support import auction_payload
from tests.unit.support import World, make_fixture

ADMIN = Viewer("auth0|admin", admin=True)
USERS = ("auth0|alice", "auth0|bob")
PEERS = ("6", "7")
FUNDS = 50_000


class GroupBooksMachine(RuleBasedStateMachine):
    """The group's own bonds, driven at random."""

    @initialize()
    def start(self) -> None:
        self.world = World()
        self.world.add_fixtures(make_fixture(1), make_fixture(2, home="Leeds", away="Wolves"))
        self.topped_up = 0
        for user in (*USERS, ADMIN.user_id):
            self.world.fund(user, FUNDS)
            self.topped_up += FUNDS
        self.inflight: list[tuple[str, str]] = []
        self.finals: dict[int, tuple[int, int]] = {}
        self.peer_offers = 0
        self.peer_proposals = 0
        for fixture in (1, 2):  # a lot of each fixture to start from
            self.group_purchase(fixture, Outcome.HOME, 6, valid=True)
            self.deliver_now()
        lots = self._lots()
        self.world.exchange.offer_bonds(ADMIN, lots[0], 2)  # an auction of ours
        self.peer_offers_bonds("6", 2, now=True)  # and one of another group

    # -- helpers -------------------------------------------------------------------------

    def _lots(self) -> list[str]:
        return sorted(x.id for x in self.world.store.lots())

    def _try(self, action: Callable[[], object]) -> None:
        # refusals are the rules at work: the invariants check they changed nothing wrong
        with contextlib.suppress(GoatError):
            action()

    # -- the admin, our users -----------------------------------------------------------

    @rule(
        fixture=st.sampled_from([1, 2]),
        result=st.sampled_from(list(Outcome)),
        quantity=st.integers(1, 6),
        valid=st.booleans(),
    )
    def group_purchase(self, fixture: int, result: Outcome, quantity: int, valid: bool) -> None:
        """The admin buys for the group; the course's verdict goes in flight."""
        command = BuyBonds(ADMIN.user_id, fixture, result, quantity, True, seller=15, admin=True)
        try:
            bought = self.world.exchange.buy_bonds(command)
        except GoatError:
            return
        verdict = {"request_id": bought.purchase.request_id, "group_id": 1, "valid": valid}
        self.inflight.append((TOPIC_VALIDATION, json.dumps(verdict)))

    @rule(data=st.data(), on_sale=st.booleans(), discount=st.sampled_from([0, 10, 20, 30, 15]))
    def update_lot(self, data: st.DataObject, on_sale: bool, discount: int) -> None:
        lots = self._lots()
        if lots:
            lot = data.draw(st.sampled_from(lots))
            self._try(
                lambda: self.world.exchange.update_lot(
                    ADMIN, lot, on_sale=on_sale, discount=discount
                )
            )

    @rule(data=st.data(), user=st.sampled_from(USERS), quantity=st.integers(1, 4))
    def user_buys(self, data: st.DataObject, user: str, quantity: int) -> None:
        lots = self._lots()
        if lots:
            lot = data.draw(st.sampled_from(lots))
            self._try(lambda: self.world.exchange.buy_from_lot(user, lot, quantity))

    # -- auctions ---------------------------------------------------------------------------

    @rule(data=st.data(), quantity=st.integers(1, 4))
    def offer(self, data: st.DataObject, quantity: int) -> None:
        lots = self._lots()
        if lots:
            lot = data.draw(st.sampled_from(lots))
            self._try(lambda: self.world.exchange.offer_bonds(ADMIN, lot, quantity))

    @rule(
        data=st.data(), peer=st.sampled_from(PEERS), quantity=st.integers(1, 4), now=st.booleans()
    )
    def peer_proposes(self, data: st.DataObject, peer: str, quantity: int, now: bool) -> None:
        """Another group proposes for one of our auctions (the message goes in flight)."""
        ours = [o.auction_id for o in self.world.store.offers() if o.group_id == "15"]
        if ours:
            auction = data.draw(st.sampled_from(ours))
            self.peer_proposals += 1
            payload = auction_payload(
                "proposal",
                auction,
                f"pp-{self.peer_proposals}",
                group_id=peer,
                fixture_id=2,
                result="Wolves",
                quantity=quantity,
            )
            self._send(json.dumps(payload), now)

    @rule(data=st.data(), accept=st.booleans())
    def answer(self, data: st.DataObject, accept: bool) -> None:
        """Our admin accepts or rejects a proposal for one of our auctions."""
        pending = [p.proposal_id for p in self.world.store.proposals() if p.group_id != "15"]
        if pending:
            chosen = data.draw(st.sampled_from(pending))
            act = (
                self.world.exchange.accept_proposal
                if accept
                else self.world.exchange.reject_proposal
            )
            self._try(lambda: act(ADMIN, chosen))

    @rule(peer=st.sampled_from(PEERS), quantity=st.integers(1, 4), now=st.booleans())
    def peer_offers_bonds(self, peer: str, quantity: int, now: bool) -> None:
        self.peer_offers += 1
        payload = auction_payload(
            "offer",
            f"pa-{self.peer_offers}",
            group_id=peer,
            fixture_id=2,
            result="---",
            quantity=quantity,
        )
        self._send(json.dumps(payload), now)

    @rule(data=st.data(), quantity=st.integers(1, 4))
    def propose(self, data: st.DataObject, quantity: int) -> None:
        offers = [o.auction_id for o in self.world.store.offers() if o.group_id != "15"]
        lots = self._lots()
        if offers and lots:
            auction, lot = data.draw(st.sampled_from(offers)), data.draw(st.sampled_from(lots))
            self._try(lambda: self.world.exchange.propose_bonds(ADMIN, auction, lot, quantity))

    @rule(data=st.data(), accept=st.booleans(), now=st.booleans())
    def peer_answers(self, data: st.DataObject, accept: bool, now: bool) -> None:
        """The offering group answers one of our proposals (in flight)."""
        ours = [p for p in self.world.store.proposals() if p.group_id == "15"]
        if ours:
            proposal = data.draw(st.sampled_from(ours))
            offer = next(
                o for o in self.world.store.offers() if o.auction_id == proposal.auction_id
            )
            payload = auction_payload(
                "acceptance" if accept else "rejection",
                offer.auction_id,
                proposal.proposal_id,
                group_id=offer.group_id,
                fixture_id=offer.fixture_id,
                result=offer.result,
                quantity=offer.quantity,
            )
            self._send(json.dumps(payload), now)

    @rule(data=st.data(), impostor=st.booleans(), now=st.booleans())
    def peer_accepts_another(self, data: st.DataObject, impostor: bool, now: bool) -> None:
        """The offering group (or, ``impostor``, another) accepts a proposal not ours."""
        offers = [o for o in self.world.store.offers() if o.group_id != "15"]
        if offers:
            offer = data.draw(st.sampled_from(offers))
            sender = next(p for p in PEERS if p != offer.group_id) if impostor else offer.group_id
            payload = auction_payload(
                "acceptance",
                offer.auction_id,
                f"theirs-{offer.auction_id}",
                group_id=sender,
                fixture_id=offer.fixture_id,
                result=offer.result,
                quantity=offer.quantity,
            )
            self._send(json.dumps(payload), now)

    # -- the broker and the course ----------------------------------------------------------

    def _send(self, payload: str, now: bool) -> None:
        """An auction message goes in flight; ``now``: it also arrives at once (so a copy
        may come again later)."""
        self.inflight.append((TOPIC_AUCTIONS, payload))
        if now:
            self.world.exchange.receive(TOPIC_AUCTIONS, payload)

    def deliver_now(self) -> None:
        """The latest message in flight arrives."""
        topic, payload = self.inflight.pop()
        self.world.exchange.receive(topic, payload)

    @rule(data=st.data(), again=st.booleans())
    def deliver(self, data: st.DataObject, again: bool) -> None:
        """A message in flight arrives, in any order; it may stay in flight to come again."""
        if self.inflight:
            index = data.draw(st.integers(0, len(self.inflight) - 1))
            topic, payload = self.inflight[index] if again else self.inflight.pop(index)
            self.world.exchange.receive(topic, payload)

    @rule()
    def echoes(self) -> None:
        """Everything we published comes back from the broker."""
        for message in self.world.store.outbox_messages():
            self.world.exchange.receive(message.topic, message.payload)

    @rule(fixture=st.sampled_from([1, 2]), home=st.integers(0, 2), away=st.integers(0, 2))
    def result(self, fixture: int, home: int, away: int) -> None:
        """The final result (once a fixture has one, the same again: results are not
        corrected here, so the winner each lot was settled on is the fixture's)."""
        home, away = self.finals.setdefault(fixture, (home, away))
        history = render_history([MatchState(fixture, "FT", None, 90, home, away)])
        self.world.exchange.receive(TOPIC_HISTORY, history)

    @rule(fixture=st.sampled_from([1, 2]))
    def kick_off(self, fixture: int) -> None:
        """The fixture starts: its bonds no longer change hands."""
        history = render_history([MatchState(fixture, "1H", None, 1, 0, 0)])
        self.world.exchange.receive(TOPIC_HISTORY, history)

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def bonds_are_conserved(self) -> None:
        """Inventory + users' bonds + traded away == bought + received; no lot negative."""
        lots = self.world.store.lots()
        assert all(x.quantity >= 0 for x in lots)
        kept = sum(x.quantity for x in lots if x.status is not LotStatus.TRADED)
        traded = sum(x.quantity for x in lots if x.status is LotStatus.TRADED)
        purchases = self.world.store.purchases()
        users = sum(p.quantity for p in purchases if p.seller == 15 and p.reserved == 0)
        bought = sum(
            p.reserved
            for p in purchases
            if p.user_id == ADMIN.user_id
            and p.status in (PurchaseStatus.ACCEPTED, PurchaseStatus.WON, PurchaseStatus.LOST)
        )
        offers = {o.auction_id: o for o in self.world.store.offers()}
        proposals = self.world.store.proposals()
        accepted = [p for p in proposals if p.state is ProposalState.ACCEPTED]
        received = sum(
            p.quantity if p.group_id != "15" else offers[p.auction_id].quantity for p in accepted
        )
        assert kept + users + traded == bought + received

    @invariant()
    def every_swap_once(self) -> None:
        """One received lot per accepted proposal, and at most one accepted per auction of ours."""
        swaps = [x for x in self.world.store.lots() if x.source.startswith("swap:")]
        accepted = [p for p in self.world.store.proposals() if p.state is ProposalState.ACCEPTED]
        assert len(swaps) == len(accepted) == len({x.source for x in swaps})
        per_auction = Counter(p.auction_id for p in accepted)
        assert all(n == 1 for n in per_auction.values())

    @invariant()
    def every_payout_once(self) -> None:
        """Each lot pays the account at most once, each purchase a wallet at most once."""
        account = [e.reference for e in self.world.store.account() if e.kind is AccountKind.PAYOUT]
        assert len(account) == len(set(account))
        wallet = [e.reference for e in self.world.store.ledger() if e.kind is LedgerKind.PAYOUT]
        assert len(wallet) == len(set(wallet))
        admin = [e for e in self.world.store.ledger() if e.user_id == ADMIN.user_id]
        assert all(e.kind is not LedgerKind.PAYOUT for e in admin)  # group purchases pay the group

    @invariant()
    def traded_lots_are_never_paid(self) -> None:
        """No lot traded away has a payout: it is the other group's."""
        paid = {e.reference for e in self.world.store.account() if e.kind is AccountKind.PAYOUT}
        traded = {f"lot:{x.id}" for x in self.world.store.lots() if x.status is LotStatus.TRADED}
        assert not paid & traded

    @invariant()
    def payouts_are_the_winning_lots_the_group_holds(self) -> None:
        """The account's payouts are exactly the winning lots the group holds on finished
        fixtures, each paid once at quantity × price × odd: held, on sale, or offered in
        our auction (which no one may accept once its fixture started); a lot proposed for
        another group's auction is neither paid nor settled until it is answered."""
        expected: dict[str, int] = {}
        for lot in self.world.store.lots():
            if lot.fixture_id not in self.finals:
                continue
            proposed = lot.status is LotStatus.ON_AUCTION and lot.source.startswith("proposal:")
            if lot.status is LotStatus.TRADED or proposed:
                assert lot.status is LotStatus.TRADED or not lot.settled
                continue
            assert lot.settled, lot
            fixture = self.world.fixture(lot.fixture_id)
            if lot.quantity and fixture.winner == lot.result:
                assert fixture.odds is not None
                odd = fixture.odds.for_outcome(lot.result)
                expected[f"lot:{lot.id}"] = payout(lot.quantity, 1000, odd)
        account = self.world.store.account()
        assert {e.reference: e.amount for e in account if e.kind is AccountKind.PAYOUT} == expected

    @invariant()
    def money_is_conserved(self) -> None:
        """Wallets + account == top-ups − what group purchases cost + every payout;
        sales move money from wallets to the account exactly."""
        wallets = sum(u.wallet for u in self.world.store.users())
        account = self.world.store.account()
        balance = sum(e.amount for e in account)
        spent = sum(
            p.quantity * 1000
            for p in self.world.store.purchases()
            if p.user_id == ADMIN.user_id and p.status is not PurchaseStatus.REJECTED
        )
        ledger = self.world.store.ledger()
        paid = sum(e.amount for e in ledger if e.kind is LedgerKind.PAYOUT)
        paid += sum(e.amount for e in account if e.kind is AccountKind.PAYOUT)
        assert wallets + balance == self.topped_up - spent + paid
        sales = sum(e.amount for e in account if e.kind is AccountKind.SALE)
        lot_buys = {p.request_id for p in self.world.store.purchases() if p.reserved == 0}
        debits = -sum(
            e.amount for e in ledger if e.reference in lot_buys and e.kind is LedgerKind.PURCHASE
        )
        assert sales == debits


GroupBooksMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_group_books_invariants = GroupBooksMachine.TestCase
test_group_books_invariants.__doc__ = (
    "Bonds, swaps, payouts and money of the group's books add up after every step."
)
