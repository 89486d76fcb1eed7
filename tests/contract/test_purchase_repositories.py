"""The contract of the purchase, user and wallet repositories, on every backend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs

from goat_core.model import (
    FixtureSummary,
    LedgerKind,
    Location,
    Outcome,
    PaymentStatus,
    Purchase,
    PurchaseStatus,
)
from tests.contract.builders import (
    NOW,
    add_fixtures,
    add_purchases,
    fixture,
    purchase,
)
from tests.contract.conftest import Backend

# -- purchases ----------------------------------------------------------------------------


def test_purchase_reads_back_and_is_added_once(backend: Backend) -> None:
    """add() stores every field; a second add() of the same request_id is False and no change."""
    original = purchase(deposit_token="tok-1", buy_order="bo1")
    with backend.uow() as uow:
        assert uow.purchases.add(original)
        assert not uow.purchases.add(attrs.evolve(original, quantity=9))
        uow.commit()
    with backend.uow() as uow:
        assert uow.purchases.get("r1") == original
        assert uow.purchases.get("nope") is None


def test_find_by_payment_prefers_token_then_buy_order(backend: Backend) -> None:
    """find_by_payment() finds our purchase by token, else by buy order; others' never."""
    add_purchases(
        backend,
        purchase("ours", deposit_token="tok-1", buy_order="bo1"),
        purchase("theirs", user_id=None, group_id="6", deposit_token="tok-2"),
    )
    with backend.uow() as uow:

        def found(token: str | None, buy_order: str | None) -> str | None:
            hit = uow.purchases.find_by_payment(token, buy_order)
            return hit.request_id if hit else None

        assert found("tok-1", None) == "ours"
        assert found(None, "bo1") == "ours"
        assert found("x", "bo1") == "ours"
        assert found("tok-2", None) is None
        assert found(None, None) is None


def test_page_for_user_is_newest_first_with_total(backend: Backend) -> None:
    """page_for_user() lists one user's purchases newest first, filtered by status, with total."""
    add_fixtures(backend, fixture(1))
    add_purchases(
        backend,
        *[purchase(f"a{i}", created_at=NOW + timedelta(minutes=i)) for i in range(5)],
        purchase(
            "a-acc",
            status=PurchaseStatus.ACCEPTED,
            created_at=NOW - timedelta(days=1),
            fixture_id=2,  # not stored
        ),
        purchase("b0", user_id="bob"),
        purchase("peer", user_id=None, group_id="6"),
    )
    with backend.uow() as uow:
        page1, total = uow.purchases.page_for_user("alice", None, 1, 2)
        page3, _ = uow.purchases.page_for_user("alice", None, 3, 2)
        accepted, accepted_total = uow.purchases.page_for_user(
            "alice", PurchaseStatus.ACCEPTED, 1, 10
        )
        everyone, everyone_total = uow.purchases.page_for_user(None, None, 1, 25)
    assert total == 6
    assert [v.purchase.request_id for v in page1] == ["a4", "a3"]
    assert [v.purchase.request_id for v in page3] == ["a0", "a-acc"]
    assert accepted_total == 1
    assert [v.purchase.request_id for v in accepted] == ["a-acc"]
    assert everyone_total == 7
    assert "peer" not in {v.purchase.request_id for v in everyone}


def test_a_page_of_purchases_carries_each_ones_fixture_summary(backend: Backend) -> None:
    """Each purchase of page_for_user() comes with its fixture's summary, None for a
    fixture not stored."""
    add_fixtures(backend, fixture(1), fixture(2))
    add_purchases(
        backend,
        purchase("on-1", fixture_id=1, created_at=NOW),
        purchase("on-2", fixture_id=2, created_at=NOW + timedelta(minutes=1)),
        purchase("on-9", fixture_id=9, created_at=NOW + timedelta(minutes=2)),
    )
    with backend.uow() as uow:
        expected = {n: FixtureSummary.of(uow.fixtures.get(n)) for n in (1, 2)}  # type: ignore[arg-type]
        for status in (None, PurchaseStatus.PENDING):
            page, _ = uow.purchases.page_for_user("alice", status, 1, 25)
            assert [(v.purchase.request_id, v.fixture) for v in page] == [
                ("on-9", None),
                ("on-2", expected[2]),
                ("on-1", expected[1]),
            ]


def test_for_fixture_lists_a_fixtures_purchases_in_one_status(backend: Backend) -> None:
    """for_fixture() lists a fixture's purchases in one status, ours and other groups'."""
    add_purchases(
        backend,
        purchase("acc1", status=PurchaseStatus.ACCEPTED),
        purchase("acc2", status=PurchaseStatus.ACCEPTED, user_id=None, group_id="6"),
        purchase("acc-other-fixture", status=PurchaseStatus.ACCEPTED, fixture_id=2),
        purchase("pend", status=PurchaseStatus.PENDING),
        purchase("won1", status=PurchaseStatus.WON),
    )
    with backend.uow() as uow:
        accepted = uow.purchases.for_fixture(1, PurchaseStatus.ACCEPTED)
    assert {p.request_id for p in accepted} == {"acc1", "acc2"}


def test_won_bonds_by_team_counts_a_users_won_bonds_by_the_team_backed(backend: Backend) -> None:
    """won_bonds_by_team() sums one user's won bonds by backed team; draws and others are out."""
    add_fixtures(
        backend,
        fixture(1, home="Arsenal", away="Chelsea"),
        fixture(2, home="Leeds", away="Arsenal"),
    )

    def won(request_id: str, outcome: Outcome, **fields: Any) -> Purchase:
        return attrs.evolve(
            purchase(request_id, status=PurchaseStatus.WON, **fields), result=outcome
        )

    add_purchases(
        backend,
        won("w1", Outcome.HOME, quantity=2),
        won("w2", Outcome.AWAY, fixture_id=2, quantity=3),
        won("w3", Outcome.AWAY, quantity=1),
        won("w-draw", Outcome.DRAW, quantity=5),
        won("w-bob", Outcome.HOME, user_id="bob"),
        attrs.evolve(purchase("lost", status=PurchaseStatus.LOST), result=Outcome.HOME),
    )
    with backend.uow() as uow:
        assert uow.purchases.won_bonds_by_team("alice") == {"Arsenal": 5, "Chelsea": 1}
        assert uow.purchases.won_bonds_by_team("nobody") == {}


def test_transition_only_from_allowed_statuses(backend: Backend) -> None:
    """transition() moves a purchase only from an allowed status, recording payout and outcome."""
    add_purchases(backend, purchase(status=PurchaseStatus.PENDING_PAYMENT))
    later = NOW + timedelta(minutes=3)
    with backend.uow() as uow:
        assert not uow.purchases.transition(
            "r1", {PurchaseStatus.PENDING}, PurchaseStatus.ACCEPTED, later
        )
        assert uow.purchases.transition(
            "r1",
            {PurchaseStatus.PENDING_PAYMENT},
            PurchaseStatus.ACCEPTED,
            later,
            payment_status=PaymentStatus.ACCEPTED,
        )
        assert not uow.purchases.transition(
            "r1", {PurchaseStatus.PENDING_PAYMENT}, PurchaseStatus.REJECTED, later
        )
        assert uow.purchases.transition(
            "r1", {PurchaseStatus.ACCEPTED}, PurchaseStatus.WON, later, payout=3700
        )
        assert not uow.purchases.transition(
            "missing", {PurchaseStatus.PENDING}, PurchaseStatus.ACCEPTED, later
        )
        uow.commit()
    with backend.uow() as uow:
        stored = uow.purchases.get("r1")
    assert stored is not None
    assert stored.status is PurchaseStatus.WON
    assert stored.payment_status is PaymentStatus.ACCEPTED
    assert (stored.payout, stored.updated_at) == (3700, later)


def test_user_is_created_once_with_an_empty_wallet(backend: Backend) -> None:
    """get_or_create() creates a user with 0 CLP on first sight and returns it unchanged after."""
    with backend.uow() as uow:
        assert uow.users.get("alice") is None
        created = uow.users.get_or_create("alice", "alice@example.invalid", "Alice")
        again = uow.users.get_or_create("alice", "other@example.invalid", "Other")
        uow.commit()
    assert (created.id, created.email, created.name, created.wallet) == (
        "alice",
        "alice@example.invalid",
        "Alice",
        0,
    )
    assert again == created


def test_balances_reads_several_wallets_at_once(backend: Backend) -> None:
    """balances() gives each known user's balance by id and leaves unknown users out."""
    with backend.uow() as uow:
        uow.wallets.credit("alice", 5000, LedgerKind.TOP_UP, None, NOW)
        uow.users.get_or_create("bob", None, None)
        uow.commit()
        assert uow.wallets.balances({"alice", "bob", "nobody"}) == {"alice": 5000, "bob": 0}
        assert uow.wallets.balances(set()) == {}


def test_wallet_credits_add_up_with_a_ledger(backend: Backend) -> None:
    """credit() adds to the balance and returns it, each time with a ledger entry."""
    with backend.uow() as uow:
        uow.users.get_or_create("alice", None, None)
        assert uow.wallets.credit("alice", 5000, LedgerKind.TOP_UP, None, NOW) == 5000
        uow.commit()
    later = NOW + timedelta(minutes=1)
    with backend.uow() as uow:
        assert uow.wallets.credit("alice", 1000, LedgerKind.REFUND, "r3", later) == 6000
        uow.commit()
    with backend.uow() as uow:
        user = uow.users.get("alice")
        ledger = uow.wallets.ledger("alice")
    assert user is not None
    assert user.wallet == 6000
    assert [(e.user_id, e.amount, e.kind, e.reference, e.at) for e in ledger] == [
        ("alice", 5000, LedgerKind.TOP_UP, None, NOW),
        ("alice", 1000, LedgerKind.REFUND, "r3", later),
    ]


def test_credit_to_an_unknown_user_opens_the_wallet(backend: Backend) -> None:
    """credit() to a user never seen creates them with that balance."""
    with backend.uow() as uow:
        assert uow.wallets.credit("carol", 700, LedgerKind.PAYOUT, "r1", NOW) == 700
        uow.commit()
    with backend.uow() as uow:
        user = uow.users.get("carol")
    assert user is not None
    assert user.wallet == 700


def test_the_longest_location_is_stored_whole(backend: Backend) -> None:
    """An IPv6 buyer in long-named places with full-precision coordinates is stored and read."""
    where = Location(
        "2800:150:11a:1c3d:9c5e:3ab1:27f4:8d2e",
        "Municipio de San Cristóbal de las Casas X" * 2,
        "Provincia Autónoma de Bolzano - Alto Adige" * 2,
        "Bosnia and Herzegovina, Federation of Bosnia",
        -33.448899999999995,
        -170.669265000000003,
    )
    add_purchases(backend, attrs.evolve(purchase("far"), location=where))
    with backend.uow() as uow:
        found = uow.purchases.get("far")
    assert found is not None
    assert found.location == where
    assert (where.lat, where.lon) == (-33.4489, -170.6693)


def test_a_give_back_is_claimed_by_one_caller_and_closed_once(backend: Backend) -> None:
    """A give-back is claimed by one caller, listed while pending, and closed once."""
    add_purchases(backend, purchase("owed"), purchase("fine"))
    with backend.uow() as uow:
        assert uow.purchases.claim_give_back("owed", 1500, NOW)
        assert not uow.purchases.claim_give_back("owed", 1500, NOW)
        uow.commit()
    with backend.uow() as uow:
        assert not uow.purchases.claim_give_back("owed", 1500, NOW)
        assert uow.purchases.give_backs_pending(NOW, 10) == []  # claimed just now
        pending = uow.purchases.give_backs_pending(NOW + timedelta(minutes=1), 10)
        assert [(p.request_id, amount) for p, amount in pending] == [("owed", 1500)]
        assert uow.purchases.give_back_done("owed")
        assert not uow.purchases.give_back_done("owed")
        assert not uow.purchases.give_back_done("fine")
        uow.commit()
    with backend.uow() as uow:
        assert uow.purchases.give_backs_pending(NOW + timedelta(minutes=1), 10) == []


def test_a_stale_pending_give_back_is_taken_over_by_one_caller(backend: Backend) -> None:
    """With stale_before, a pending claim older than it is retaken once; a fresh one is not."""
    add_purchases(backend, purchase("owed"))
    later = NOW + timedelta(minutes=5)
    with backend.uow() as uow:
        assert uow.purchases.claim_give_back("owed", 1500, NOW)
        assert not uow.purchases.claim_give_back("owed", 1500, NOW, stale_before=NOW)
        assert uow.purchases.claim_give_back("owed", 1500, later, stale_before=later)
        assert not uow.purchases.claim_give_back("owed", 1500, later, stale_before=later)
        assert uow.purchases.give_back_done("owed")
        soon = later + timedelta(minutes=5)
        assert not uow.purchases.claim_give_back("owed", 1500, soon, stale_before=soon)
        uow.commit()
