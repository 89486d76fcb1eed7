"""The contract of the unit of work and the fixture repository, on every backend."""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta
from decimal import Decimal

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goat_core.model import (
    Fixture,
    FixtureStage,
    FixtureSummary,
    MatchState,
    Odds,
    Outcome,
    PurchaseStatus,
    Team,
)
from goat_core.ports import FixtureQuery
from tests import strategies
from tests.contract.builders import (
    KICKOFF,
    NOW,
    add_fixtures,
    available,
    fixture,
    purchase,
)
from tests.contract.conftest import Backend

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


def test_summaries_are_what_a_purchase_shows_of_each_stored_fixture(backend: Backend) -> None:
    """summaries() is get_many() cut to FixtureSummary: teams, league, round, kick-off."""
    add_fixtures(backend, fixture(1), fixture(2, home="Everton", away="Leeds"), bonds=40)
    with backend.uow() as uow:
        found = uow.fixtures.summaries({2, 404})
        assert uow.fixtures.summaries(set()) == {}
    assert found == {2: FixtureSummary(2, "Everton", "Leeds", "Premier League",
                                       "Regular Season - 12", KICKOFF)}  # fmt: skip


def test_a_reservation_alone_reads_back_in_get_and_page(backend: Backend) -> None:
    """A row whose only change is its availability (``updated_at`` kept) reads back changed:
    the SQL repository's objects for already seen rows must not hide it."""
    add_fixtures(backend, fixture(), bonds=40)
    with backend.uow() as uow:
        before = uow.fixtures.get(1)
        assert uow.fixtures.get(1) == before
        assert uow.fixtures.reserve(1, 5) == 5
        uow.commit()
    with backend.uow() as uow:
        after = uow.fixtures.get(1)
        listed, _ = uow.fixtures.page(FixtureQuery(NOW))
    assert before is not None
    assert after is not None
    assert (before.available_bonds, after.available_bonds) == (40, 35)
    assert after.updated_at == before.updated_at
    assert [f.available_bonds for f in listed] == [35]


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
    assert [f.id for f in first] == [7, 6, 5]  # all upcoming: earliest kick-off first
    assert [f.id for f in third] == [1]
    assert (beyond, total_beyond) == ([], 7)


def filtered_ids(backend: Backend, **query: object) -> list[int]:
    """The ids of a page of fixtures, checking that its total is what it holds."""
    with backend.uow() as uow:
        found, total = uow.fixtures.page(FixtureQuery(now=NOW, **query))  # type: ignore[arg-type]
    assert total == len(found)
    return [f.id for f in found]


def test_filters_match_team_names_in_any_case_and_the_date(backend: Backend) -> None:
    """home/away match part of the team name in any case; date matches the kick-off day."""
    add_fixtures(
        backend,
        fixture(1, home="Arsenal", away="Chelsea"),
        fixture(2, home="Atlético Madrid", away="Real Madrid"),
        fixture(3, home="Chelsea", away="Arsenal", kickoff=KICKOFF + timedelta(days=1)),
        fixture(4, home="100%_Club", away="Nobody"),
    )

    ids = functools.partial(filtered_ids, backend)
    assert ids(home="arsenal") == [1]
    assert ids(away="ARSENAL") == [3]
    assert ids(home="ATLÉTICO") == [2]
    assert ids(away="madrid") == [2]
    assert ids(home="0%_") == [4]  # wildcards of SQL LIKE are plain characters here
    assert ids(home="%") == [4]
    assert ids(date=date(2024, 10, 6)) == [3]
    assert ids(home="chelsea", date=date(2024, 10, 5)) == []


def test_a_team_renamed_is_found_by_its_new_name(backend: Backend) -> None:
    """fixtures/info renaming a team of a stored fixture: the filters follow the name."""
    add_fixtures(backend, fixture(1, home="Wolves", away="Spurs"))
    add_fixtures(backend, fixture(1, home="Wolverhampton", away="Tottenham"))

    ids = functools.partial(filtered_ids, backend)
    assert ids(home="hampton") == [1]
    assert ids(away="tottenham") == [1]
    assert ids(away="spurs") == []


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


def test_lines_keep_the_upcoming_fixtures_with_odds_those_teams_play(backend: Backend) -> None:
    """lines(now, teams) gives the not-started fixtures with odds where one of the teams plays."""
    add_fixtures(
        backend,
        fixture(1, home="Arsenal", away="Chelsea"),
        fixture(2, home="Everton", away="Arsenal"),
        fixture(3, home="Everton", away="Fulham"),
        fixture(4, home="Arsenal", away="Fulham", status="FT"),
        fixture(5, home="Fulham", away="Leeds"),
        attrs.evolve(fixture(6, home="Chelsea", away="Leeds"), odds=None),
    )
    with backend.uow() as uow:
        arsenal = uow.fixtures.lines(NOW, {"Arsenal"})
        either = uow.fixtures.lines(NOW, ["Chelsea", "Fulham"])
        nobody = uow.fixtures.lines(NOW, ())
    assert [line.fixture_id for line in arsenal] == [1, 2]
    assert [line.fixture_id for line in either] == [1, 3, 5]
    assert nobody == []
    first = arsenal[0]
    assert (first.home, first.away, first.round) == ("Arsenal", "Chelsea", "Regular Season - 12")
    assert (first.odds_home, first.odds_away) == (Decimal("1.85"), Decimal("4.10"))


def _stage_fixtures(backend: Backend) -> None:
    """Two upcoming, two live (by status, by the clock), two over (finished, cancelled)."""
    add_fixtures(
        backend,
        fixture(1, kickoff=KICKOFF + timedelta(days=2)),
        fixture(2, kickoff=KICKOFF),
        fixture(3, status="1H", kickoff=NOW - timedelta(hours=1)),
        fixture(4, kickoff=NOW - timedelta(minutes=5)),
        fixture(5, status="FT", kickoff=NOW - timedelta(days=3)),
        fixture(6, status="CANC", kickoff=NOW - timedelta(days=1)),
    )


def test_page_lists_upcoming_first_then_the_rest_latest_first(backend: Backend) -> None:
    """page() puts upcoming fixtures first by kick-off, then the others latest kick-off first."""
    _stage_fixtures(backend)
    with backend.uow() as uow:
        found, total = uow.fixtures.page(FixtureQuery(now=NOW))
        second, _ = uow.fixtures.page(FixtureQuery(now=NOW, page=2, count=4))
    assert [f.id for f in found] == [2, 1, 4, 3, 6, 5]
    assert total == 6
    assert [f.id for f in second] == [6, 5]


def test_a_page_across_the_upcoming_boundary_joins_both_orders(backend: Backend) -> None:
    """Every page size gives the same order: a page may end the upcoming ones and start
    the rest, and a later page continues the rest where the previous one stopped."""
    _stage_fixtures(backend)
    for count in (1, 3, 5):
        pages = []
        with backend.uow() as uow:
            for page in range(1, 7):
                pages += uow.fixtures.page(FixtureQuery(now=NOW, page=page, count=count))[0]
        assert [f.id for f in pages] == [2, 1, 4, 3, 6, 5]


def test_every_page_tells_its_stage_s_total(backend: Backend) -> None:
    """A page's total does not depend on where the page falls: within the upcoming
    fixtures, across their end, past them, past the last page; for each stage; and when
    no fixture is upcoming any more."""
    _stage_fixtures(backend)

    def totals(now: datetime) -> dict[FixtureStage | None, set[int]]:
        with backend.uow() as uow:
            return {
                stage: {
                    uow.fixtures.page(FixtureQuery(now=now, stage=stage, page=p, count=c))[1]
                    for c in (1, 3, 5)
                    for p in range(1, 9)
                }
                for stage in (None, *FixtureStage)
            }

    upcoming, live, finished = FixtureStage.UPCOMING, FixtureStage.LIVE, FixtureStage.FINISHED
    assert totals(NOW) == {None: {6}, upcoming: {2}, live: {2}, finished: {2}}
    season_over = NOW + timedelta(days=30)  # 1 and 2 have kicked off, not yet ended
    assert totals(season_over) == {None: {6}, upcoming: {0}, live: {4}, finished: {2}}
    for count in (1, 4, 25):  # nothing upcoming: the rest, latest first, on every page
        listed = []
        with backend.uow() as uow:
            for page in range(1, 8):
                query = FixtureQuery(now=season_over, page=page, count=count)
                listed += uow.fixtures.page(query)[0]
        assert [f.id for f in listed] == [1, 2, 4, 3, 6, 5]


def test_stage_filter_keeps_upcoming_live_or_finished(backend: Backend) -> None:
    """A stage keeps only fixtures at that stage at ``now``, combined with the other filters."""
    _stage_fixtures(backend)

    def ids(stage: FixtureStage, **query: object) -> tuple[list[int], int]:
        with backend.uow() as uow:
            found, total = uow.fixtures.page(FixtureQuery(now=NOW, stage=stage, **query))  # type: ignore[arg-type]
        return [f.id for f in found], total

    assert ids(FixtureStage.UPCOMING) == ([2, 1], 2)
    assert ids(FixtureStage.LIVE) == ([4, 3], 2)
    assert ids(FixtureStage.FINISHED) == ([6, 5], 2)
    assert ids(FixtureStage.FINISHED, home="arsenal", count=1) == ([6], 2)
    assert ids(FixtureStage.LIVE, home="nobody") == ([], 0)


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
