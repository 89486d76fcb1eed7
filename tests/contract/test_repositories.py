"""The contract of every repository port (each method's docstring in ``goat_core.ports``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goat_core.model import (
    Fixture,
    League,
    LedgerKind,
    MatchState,
    Odds,
    Outcome,
    PaymentStatus,
    Purchase,
    PurchaseStatus,
    Recommendation,
    Recommendations,
    Team,
    ValidationMessage,
)
from goat_core.ports import FixtureQuery
from tests import strategies
from tests.contract.conftest import Backend

NOW = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)
KICKOFF = datetime(2024, 10, 5, 14, 0, tzinfo=UTC)


def fixture(
    fixture_id: int = 1,
    *,
    home: str = "Arsenal",
    away: str = "Chelsea",
    kickoff: datetime = KICKOFF,
    status: str = "NS",
    odds: Odds | None = None,
) -> Fixture:
    return Fixture(
        id=fixture_id,
        kickoff=kickoff,
        league=League(
            id=39,
            name="Premier League",
            round="Regular Season - 12",
            country="England",
            logo="https://media.invalid/league/39.png",
            flag="https://media.invalid/flags/gb.svg",
            season=2024,
        ),
        home=Team(fixture_id * 10, home, f"https://media.invalid/{fixture_id * 10}.png"),
        away=Team(fixture_id * 10 + 1, away, None),
        status=status,
        status_long="Not Started",
        referee="M. Oliver",
        odds=odds or Odds(Decimal("1.85"), Decimal("3.40"), Decimal("4.10")),
    )


def purchase(
    request_id: str = "r1",
    *,
    user_id: str | None = "alice",
    fixture_id: int = 1,
    status: PurchaseStatus = PurchaseStatus.PENDING,
    created_at: datetime = NOW,
    quantity: int = 2,
    group_id: str = "15",
    deposit_token: str = "",
    buy_order: str | None = None,
) -> Purchase:
    return Purchase(
        request_id=request_id,
        group_id=group_id,
        fixture_id=fixture_id,
        league_name="Premier League",
        round="Regular Season - 12",
        date="2024-10-05",
        result=Outcome.DRAW,
        quantity=quantity,
        reserved=quantity,
        wallet=not deposit_token,
        created_at=created_at,
        status=status,
        deposit_token=deposit_token,
        user_id=user_id,
        buy_order=buy_order,
        payment_url="https://webpay.invalid/pay" if deposit_token else None,
        location="Santiago, Chile",
        updated_at=created_at,
    )


def add_fixtures(backend: Backend, *fixtures: Fixture, bonds: int = 40) -> None:
    with backend.uow() as uow:
        uow.fixtures.upsert_many(list(fixtures), bonds, NOW)
        uow.commit()


def available(backend: Backend, fixture_id: int = 1) -> int | None:
    with backend.uow() as uow:
        found = uow.fixtures.get(fixture_id)
    return found.available_bonds if found else None


def add_purchases(backend: Backend, *purchases: Purchase) -> None:
    with backend.uow() as uow:
        for p in purchases:
            assert uow.purchases.add(p)
        uow.commit()


# -- unit of work -------------------------------------------------------------------------


def test_leaving_without_commit_rolls_back(backend: Backend) -> None:
    """Changes made in a unit of work that is left without commit() are forgotten."""
    with backend.uow() as uow:
        uow.fixtures.upsert_many([fixture()], 40, NOW)
        uow.outbox.add("fixtures/requests", "{}")
    with backend.uow() as uow:
        assert uow.fixtures.get(1) is None
        assert uow.outbox.backlog() == 0


def test_leaving_on_an_exception_rolls_back(backend: Backend) -> None:
    """An exception raised inside the block propagates and the changes are forgotten."""
    add_fixtures(backend, fixture())
    try:
        with backend.uow() as uow:
            assert uow.fixtures.reserve(1, 5) == 5
            raise LookupError("boom")
    except LookupError:
        pass
    assert available(backend) == 40


def test_rollback_forgets_and_the_block_goes_on(backend: Backend) -> None:
    """rollback() forgets the changes so far; later changes in the block commit normally."""
    with backend.uow() as uow:
        uow.inbox.remember("a")
        uow.rollback()
        uow.inbox.remember("b")
        uow.commit()
    with backend.uow() as uow:
        assert uow.inbox.remember("a")
        assert not uow.inbox.remember("b")


def test_work_after_commit_is_a_new_transaction(backend: Backend) -> None:
    """After commit() the same block may go on, and what it does next needs its own commit."""
    with backend.uow() as uow:
        uow.fixtures.upsert_many([fixture(1)], 40, NOW)
        uow.commit()
        assert uow.fixtures.get(1) is not None
        uow.fixtures.upsert_many([fixture(2)], 40, NOW)
    with backend.uow() as uow:
        assert uow.fixtures.get(1) is not None
        assert uow.fixtures.get(2) is None


# -- fixtures -----------------------------------------------------------------------------


def test_new_fixture_gets_initial_bonds_and_reads_back_exactly(backend: Backend) -> None:
    """A new fixture is stored with every broker field, exact odds and the initial bonds."""
    original = fixture(odds=Odds(Decimal("1.850"), Decimal("3.4"), Decimal("12.75")))
    add_fixtures(backend, original, bonds=40)
    with backend.uow() as uow:
        stored = uow.fixtures.get(1)
    assert stored == attrs.evolve(original, available_bonds=40, updated_at=NOW)
    assert stored is not None
    assert stored.odds is not None
    assert str(stored.odds.home) == "1.850"  # the exact text the broker sent


def test_unknown_fixture_is_none(backend: Backend) -> None:
    """get() of an id never stored is None."""
    with backend.uow() as uow:
        assert uow.fixtures.get(404) is None


def test_get_many_finds_the_stored_fixtures_among_the_ids(backend: Backend) -> None:
    """get_many() returns each stored fixture as get() does, by id, leaving unknown ids out."""
    add_fixtures(backend, fixture(1), fixture(2, home="Everton"), fixture(3), bonds=40)
    with backend.uow() as uow:
        assert uow.fixtures.reserve(2, 5) == 5
        uow.commit()
        found = uow.fixtures.get_many({2, 3, 404})
        assert found == {2: uow.fixtures.get(2), 3: uow.fixtures.get(3)}
        assert uow.fixtures.get_many(set()) == {}
    assert found[2].available_bonds == 35
    assert found[2].home.name == "Everton"


def test_update_changes_broker_data_but_never_availability(backend: Backend) -> None:
    """Upserting a known fixture replaces its broker data and keeps its availability."""
    add_fixtures(backend, fixture())
    with backend.uow() as uow:
        assert uow.fixtures.reserve(1, 7) == 7
        uow.commit()
    later = NOW + timedelta(hours=1)
    changed = attrs.evolve(
        fixture(), status="PST", referee=None, odds=None, home=Team(10, "Gunners")
    )
    with backend.uow() as uow:
        uow.fixtures.upsert_many([changed], 40, later)
        uow.commit()
    with backend.uow() as uow:
        assert uow.fixtures.get(1) == attrs.evolve(changed, available_bonds=33, updated_at=later)


def test_repeated_id_in_one_batch_keeps_the_last(backend: Backend) -> None:
    """A batch naming a fixture twice stores the later description."""
    add_fixtures(backend, fixture(status="NS"), fixture(status="PST"))
    with backend.uow() as uow:
        stored = uow.fixtures.get(1)
    assert stored is not None
    assert stored.status == "PST"


def test_empty_batch_changes_nothing(backend: Backend) -> None:
    """Upserting no fixture is allowed and stores nothing."""
    add_fixtures(backend)
    with backend.uow() as uow:
        assert uow.fixtures.page(FixtureQuery(now=NOW)) == ([], 0)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(strategies.fixtures(), min_size=1, max_size=5))
def test_any_broker_fixture_reads_back_equal(backend: Backend, generated: list[Fixture]) -> None:
    """Whatever fixtures/info can describe is read back unchanged (text, odds, kick-off)."""

    def no_nul(value: object) -> bool:  # PostgreSQL text cannot hold NUL (InvalidInput)
        if isinstance(value, str):
            return "\x00" not in value
        if isinstance(value, dict):
            return all(no_nul(v) for v in value.values())
        return True

    batch = {f.id: f for f in generated if no_nul(attrs.asdict(f))}
    with backend.uow() as uow:
        uow.fixtures.upsert_many(list(batch.values()), 40, NOW)
        for f in batch.values():
            stored = uow.fixtures.get(f.id)
            assert stored is not None
            assert attrs.evolve(stored, available_bonds=None, updated_at=None) == f


def test_page_orders_by_kickoff_and_counts_all(backend: Backend) -> None:
    """page() returns one page of fixtures by kick-off and the total of all that match."""
    fixtures = [fixture(i, kickoff=KICKOFF + timedelta(hours=10 - i)) for i in range(1, 8)]
    add_fixtures(backend, *fixtures)
    with backend.uow() as uow:
        first, total = uow.fixtures.page(FixtureQuery(now=NOW, page=1, count=3))
        third, _ = uow.fixtures.page(FixtureQuery(now=NOW, page=3, count=3))
        beyond, total_beyond = uow.fixtures.page(FixtureQuery(now=NOW, page=9, count=3))
    assert total == 7
    assert [f.id for f in first] == [7, 6, 5]
    assert [f.id for f in third] == [1]
    assert (beyond, total_beyond) == ([], 7)


def test_filters_match_team_names_in_any_case_and_the_date(backend: Backend) -> None:
    """home/away match part of the team name in any case; date matches the kick-off day."""
    add_fixtures(
        backend,
        fixture(1, home="Arsenal", away="Chelsea"),
        fixture(2, home="Atlético Madrid", away="Real Madrid"),
        fixture(3, home="Chelsea", away="Arsenal", kickoff=KICKOFF + timedelta(days=1)),
        fixture(4, home="100%_Club", away="Nobody"),
    )

    def ids(**query: object) -> list[int]:
        with backend.uow() as uow:
            found, total = uow.fixtures.page(FixtureQuery(now=NOW, **query))  # type: ignore[arg-type]
        assert total == len(found)
        return [f.id for f in found]

    assert ids(home="arsenal") == [1]
    assert ids(away="ARSENAL") == [3]
    assert ids(home="ATLÉTICO") == [2]
    assert ids(away="madrid") == [2]
    assert ids(home="0%_") == [4]  # wildcards of SQL LIKE are plain characters here
    assert ids(home="%") == [4]
    assert ids(date=date(2024, 10, 6)) == [3]
    assert ids(home="chelsea", date=date(2024, 10, 5)) == []


def test_filtered_pages_hide_started_fixtures(backend: Backend) -> None:
    """With a filter, fixtures that kicked off or left "not started" are left out."""
    add_fixtures(
        backend,
        fixture(1),
        fixture(2, status="1H"),
        fixture(3, kickoff=NOW - timedelta(minutes=1)),
        fixture(4, status="TBD"),
    )
    with backend.uow() as uow:
        everything, all_total = uow.fixtures.page(FixtureQuery(now=NOW))
        upcoming, upcoming_total = uow.fixtures.page(FixtureQuery(now=NOW, upcoming_only=True))
        listed = uow.fixtures.upcoming(NOW)
    assert all_total == 4
    assert {f.id for f in everything} == {1, 2, 3, 4}
    assert upcoming_total == 2
    assert {f.id for f in upcoming} == {1, 4}
    assert {f.id for f in listed} == {1, 4}


def test_apply_result_records_status_and_goals(backend: Backend) -> None:
    """apply_result() stores status and goals, and says False for an unknown fixture."""
    add_fixtures(backend, fixture())
    later = NOW + timedelta(days=5)
    with backend.uow() as uow:
        assert uow.fixtures.apply_result(MatchState(1, "FT", "Match Finished", 90, 2, 1), later)
        assert not uow.fixtures.apply_result(MatchState(2, "FT", None, 90, 0, 0), later)
        uow.commit()
    with backend.uow() as uow:
        stored = uow.fixtures.get(1)
    assert stored is not None
    assert (stored.status, stored.status_long, stored.elapsed) == ("FT", "Match Finished", 90)
    assert (stored.goals_home, stored.goals_away, stored.updated_at) == (2, 1, later)
    assert stored.winner is Outcome.HOME


def test_late_info_never_reopens_a_finished_fixture(backend: Backend) -> None:
    """A fixtures/info upsert after the final result keeps the final status and goals."""
    add_fixtures(backend, fixture())
    with backend.uow() as uow:
        uow.fixtures.apply_result(MatchState(1, "FT", "Match Finished", 90, 2, 1), NOW)
        uow.fixtures.upsert_many([attrs.evolve(fixture(), referee="Late Ref")], 40, NOW)
        uow.commit()
    with backend.uow() as uow:
        stored = uow.fixtures.get(1)
    assert stored is not None
    assert (stored.status, stored.goals_home, stored.goals_away) == ("FT", 2, 1)
    assert stored.referee == "Late Ref"


def test_awaiting_payment_lists_old_unpaid_purchases_oldest_first(backend: Backend) -> None:
    """awaiting_payment() gives pending_payment purchases made before a time, oldest first."""
    made = [
        purchase(
            f"w{n}", status=PurchaseStatus.PENDING_PAYMENT, created_at=NOW + timedelta(minutes=n)
        )
        for n in range(3)
    ]
    with backend.uow() as uow:
        for p in [*made, purchase("paid", status=PurchaseStatus.ACCEPTED)]:
            uow.purchases.add(p)
        uow.commit()
    with backend.uow() as uow:
        found = uow.purchases.awaiting_payment(NOW + timedelta(minutes=2), 10)
        limited = uow.purchases.awaiting_payment(NOW + timedelta(hours=1), 1)
    assert [p.request_id for p in found] == ["w0", "w1"]
    assert [p.request_id for p in limited] == ["w0"]


def test_an_in_play_result_never_reopens_a_finished_fixture(backend: Backend) -> None:
    """apply_result() of a non-final result on a finished fixture changes nothing (False)."""
    add_fixtures(backend, fixture())
    with backend.uow() as uow:
        assert uow.fixtures.apply_result(MatchState(1, "FT", "Match Finished", 90, 2, 1), NOW)
        assert not uow.fixtures.apply_result(MatchState(1, "2H", "Second Half", 80, 1, 1), NOW)
        uow.fixtures.lock(1)  # and the result lock may be taken, fixture known or not
        uow.fixtures.lock(404)
        uow.commit()
    with backend.uow() as uow:
        stored = uow.fixtures.get(1)
    assert stored is not None
    assert (stored.status, stored.goals_home, stored.goals_away) == ("FT", 2, 1)


def test_lock_on_a_request_id_is_reentrant_within_a_unit_of_work(backend: Backend) -> None:
    """lock() may be taken twice in one unit of work, on a request that does not exist yet."""
    with backend.uow() as uow:
        uow.purchases.lock("not-yet")
        uow.purchases.lock("not-yet")
        assert uow.purchases.get("not-yet") is None
        uow.commit()


def test_reserve_takes_what_is_left_and_says_how_many(backend: Backend) -> None:
    """reserve() takes all it is asked if it can, else what is left (0 of an unknown fixture)."""
    add_fixtures(backend, fixture(), bonds=5)
    with backend.uow() as uow:
        assert uow.fixtures.reserve(1, 2) == 2
        assert uow.fixtures.reserve(1, 4) == 3
        assert uow.fixtures.reserve(1, 1) == 0
        assert uow.fixtures.reserve(404, 1) == 0
        assert uow.fixtures.reserve(1, 0) == 0
        uow.commit()
    assert available(backend) == 0


def test_release_gives_bonds_back(backend: Backend) -> None:
    """release() adds the bonds back to availability."""
    add_fixtures(backend, fixture(), bonds=5)
    with backend.uow() as uow:
        assert uow.fixtures.reserve(1, 4) == 4
        uow.fixtures.release(1, 3)
        uow.commit()
    assert available(backend) == 4


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
    add_purchases(
        backend,
        *[purchase(f"a{i}", created_at=NOW + timedelta(minutes=i)) for i in range(5)],
        purchase("a-acc", status=PurchaseStatus.ACCEPTED, created_at=NOW - timedelta(days=1)),
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
    assert [p.request_id for p in page1] == ["a4", "a3"]
    assert [p.request_id for p in page3] == ["a0", "a-acc"]
    assert accepted_total == 1
    assert [p.request_id for p in accepted] == ["a-acc"]
    assert everyone_total == 7
    assert "peer" not in {p.request_id for p in everyone}


def test_for_fixture_and_won_by_user_select_by_status(backend: Backend) -> None:
    """for_fixture() lists a fixture's purchases in one status; won_by_user() a user's wins."""
    add_purchases(
        backend,
        purchase("acc1", status=PurchaseStatus.ACCEPTED),
        purchase("acc2", status=PurchaseStatus.ACCEPTED, user_id=None, group_id="6"),
        purchase("acc-other-fixture", status=PurchaseStatus.ACCEPTED, fixture_id=2),
        purchase("pend", status=PurchaseStatus.PENDING),
        purchase("won1", status=PurchaseStatus.WON),
        purchase("won-bob", status=PurchaseStatus.WON, user_id="bob"),
    )
    with backend.uow() as uow:
        accepted = uow.purchases.for_fixture(1, PurchaseStatus.ACCEPTED)
        won = uow.purchases.won_by_user("alice")
    assert {p.request_id for p in accepted} == {"acc1", "acc2"}
    assert [p.request_id for p in won] == ["won1"]


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


# -- messages -----------------------------------------------------------------------------


def test_outbox_hands_out_unsent_messages_oldest_first(backend: Backend) -> None:
    """pending() lists unsent messages oldest first; mark_sent() removes them for good."""
    with backend.uow() as uow:
        for i in range(4):
            uow.outbox.add("fixtures/requests", f'{{"n": {i}}}')
        uow.commit()
    with backend.uow() as uow:
        first = uow.outbox.pending(2)
        assert [m.payload for m in first] == ['{"n": 0}', '{"n": 1}']
        assert all(m.topic == "fixtures/requests" for m in first)
        uow.outbox.mark_sent([first[0].id])
        uow.commit()
    with backend.uow() as uow:
        assert uow.outbox.backlog() == 3
        assert [m.payload for m in uow.outbox.pending(10)] == [
            '{"n": 1}',
            '{"n": 2}',
            '{"n": 3}',
        ]
        uow.outbox.mark_sent([m.id for m in uow.outbox.pending(10)])
        uow.commit()
    with backend.uow() as uow:
        assert uow.outbox.backlog() == 0
        assert uow.outbox.pending(10) == []


def test_inbox_remembers_each_key_once(backend: Backend) -> None:
    """remember() is True the first time a key is seen, also across units of work, then False."""
    with backend.uow() as uow:
        assert uow.inbox.remember("fixtures/info:abc")
        assert not uow.inbox.remember("fixtures/info:abc")
        uow.commit()
    with backend.uow() as uow:
        assert not uow.inbox.remember("fixtures/info:abc")
        assert uow.inbox.remember("fixtures/info:def")


def test_parked_validation_first_kept_wins_and_is_taken_once(backend: Backend) -> None:
    """park() keeps the first validation of a request; take() returns it once."""
    first = ValidationMessage("r9", "6", valid=False, seller=0)
    with backend.uow() as uow:
        uow.parked.park(first, NOW)
        uow.parked.park(ValidationMessage("r9", "6", valid=True), NOW)
        uow.commit()
    with backend.uow() as uow:
        assert uow.parked.take("r9") == first
        assert uow.parked.take("r9") is None
        assert uow.parked.take("unknown") is None
        uow.commit()


def test_dead_letters_page_newest_first(backend: Backend) -> None:
    """page() lists kept messages newest first with their topic, payload, reason and time."""
    with backend.uow() as uow:
        for i in range(3):
            uow.dead_letters.add("fixtures/requests", f"payload {i}", f"reason {i}", NOW)
        uow.commit()
    with backend.uow() as uow:
        newest, total = uow.dead_letters.page(1, 2)
        oldest, _ = uow.dead_letters.page(2, 2)
    assert total == 3
    assert [(d.payload, d.reason) for d in newest] == [
        ("payload 2", "reason 2"),
        ("payload 1", "reason 1"),
    ]
    assert [d.payload for d in oldest] == ["payload 0"]
    assert all(d.topic == "fixtures/requests" and d.received_at == NOW for d in newest)


def test_auctions_are_kept_as_received(backend: Backend) -> None:
    """add() stores the auction payload verbatim."""
    with backend.uow() as uow:
        uow.auctions.add('{"auction_id": "a1"}', NOW)
        uow.auctions.add("not even json", NOW)
        uow.commit()
    assert backend.auctions() == ['{"auction_id": "a1"}', "not even json"]


def test_recommendations_are_replaced_and_exact(backend: Backend) -> None:
    """put() replaces a user's recommendations; get() returns them with exact ponds."""
    first = Recommendations(
        "alice",
        NOW,
        (
            Recommendation(7, Decimal("12") / Decimal("1.85")),
            Recommendation(3, Decimal("4.5")),
        ),
    )
    with backend.uow() as uow:
        assert uow.recommendations.get("alice") is None
        uow.recommendations.put(first)
        uow.commit()
    with backend.uow() as uow:
        assert uow.recommendations.get("alice") == first
        uow.recommendations.put(Recommendations("alice", NOW + timedelta(hours=1)))
        uow.commit()
    with backend.uow() as uow:
        assert uow.recommendations.get("alice") == Recommendations(
            "alice", NOW + timedelta(hours=1)
        )
