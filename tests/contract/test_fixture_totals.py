"""A page's totals follow every way a fixture's stage changes, on every backend.

PostgreSQL answers them from ``fixture_tally`` (kept by triggers), the others count:
each total is checked against the fixtures themselves after each change.
"""

from __future__ import annotations

from datetime import timedelta

import attrs
import sqlalchemy as sa

from goat_adapters.sql import tables as t
from goat_core.model import ENDED_STATUSES, NOT_STARTED_STATUSES, FixtureStage, MatchState
from goat_core.ports import FixtureQuery
from tests.contract.builders import KICKOFF, NOW, add_fixtures, fixture
from tests.contract.conftest import Backend

STAGES = (None, FixtureStage.UPCOMING, FixtureStage.LIVE, FixtureStage.FINISHED)


def totals(backend: Backend, **query: object) -> dict[FixtureStage | None, int]:
    with backend.uow() as uow:
        return {
            stage: uow.fixtures.page(FixtureQuery(now=NOW, stage=stage, **query))[1]  # type: ignore[arg-type]
            for stage in STAGES
        }


def test_totals_follow_results_info_and_new_fixtures(backend: Backend) -> None:
    add_fixtures(
        backend,
        fixture(1, kickoff=KICKOFF),
        fixture(2, kickoff=KICKOFF + timedelta(days=1)),
        fixture(3, kickoff=NOW - timedelta(minutes=5)),  # kicked off, still "NS"
        fixture(4, status="FT", kickoff=NOW - timedelta(days=2)),
    )
    assert totals(backend) == {None: 4, FixtureStage.UPCOMING: 2, FixtureStage.LIVE: 1,
                               FixtureStage.FINISHED: 1}  # fmt: skip

    with backend.uow() as uow:  # a result ends one, another starts; a repeat changes nothing
        uow.fixtures.apply_result(MatchState(3, "FT", "Match Finished", 90, 1, 0), NOW)
        uow.fixtures.apply_result(MatchState(3, "FT", "Match Finished", 90, 1, 0), NOW)
        uow.fixtures.apply_result(MatchState(1, "1H", "First Half", 3, 0, 0), NOW)
        uow.commit()
    assert totals(backend) == {None: 4, FixtureStage.UPCOMING: 1, FixtureStage.LIVE: 1,
                               FixtureStage.FINISHED: 2}  # fmt: skip

    with backend.uow() as uow:  # info: a status changed by an upsert, and a new fixture
        postponed = attrs.evolve(fixture(2, kickoff=KICKOFF + timedelta(days=1)), status="PST")
        uow.fixtures.upsert_many([postponed, fixture(5, kickoff=KICKOFF)], 40, NOW)
        uow.commit()
    assert totals(backend) == {None: 5, FixtureStage.UPCOMING: 1, FixtureStage.LIVE: 2,
                               FixtureStage.FINISHED: 2}  # fmt: skip


def test_a_rolled_back_change_leaves_the_totals(backend: Backend) -> None:
    add_fixtures(backend, fixture(1, kickoff=KICKOFF), fixture(2, kickoff=KICKOFF))
    with backend.uow() as uow:
        uow.fixtures.apply_result(MatchState(1, "FT", "Match Finished", 90, 1, 0), NOW)
        uow.fixtures.upsert_many([fixture(3, kickoff=KICKOFF)], 40, NOW)
    assert totals(backend) == {None: 2, FixtureStage.UPCOMING: 2, FixtureStage.LIVE: 0,
                               FixtureStage.FINISHED: 0}  # fmt: skip


def test_deleting_fixtures_by_hand_keeps_the_totals(backend: Backend) -> None:
    """An operator's DELETE (SQL only: the ports never delete a fixture)."""
    if backend.name == "memory":
        return
    add_fixtures(
        backend,
        fixture(1, kickoff=KICKOFF),
        fixture(2, status="FT", kickoff=NOW - timedelta(days=2)),
        fixture(3, status="2H", kickoff=NOW - timedelta(hours=1)),
    )
    with backend.uow() as uow:
        uow.execute(sa.delete(t.fixtures).where(t.fixtures.c.id.in_([1, 2])))  # type: ignore[attr-defined]
        uow.commit()
    assert totals(backend) == {None: 1, FixtureStage.UPCOMING: 0, FixtureStage.LIVE: 1,
                               FixtureStage.FINISHED: 0}  # fmt: skip


def test_a_filtered_page_counts_what_it_filters(backend: Backend) -> None:
    """One statement gives a filtered page and its total; past the last page, a count."""
    add_fixtures(backend, *(fixture(i, kickoff=KICKOFF + timedelta(hours=i)) for i in range(1, 8)))
    with backend.uow() as uow:
        first, total = uow.fixtures.page(FixtureQuery(now=NOW, home="a", count=3))
        beyond, beyond_total = uow.fixtures.page(FixtureQuery(now=NOW, home="a", page=9, count=3))
        none, none_total = uow.fixtures.page(FixtureQuery(now=NOW, home="no such team"))
    assert ([f.id for f in first], total) == ([1, 2, 3], 7)
    assert (beyond, beyond_total) == ([], 7)
    assert (none, none_total) == ([], 0)


def test_a_filtered_page_orders_by_kickoff_then_id(backend: Backend) -> None:
    """A filtered page is in the list's order whatever the ids: upcoming fixtures by
    kick-off, finished ones latest first, ties by id, across pages."""
    hours = {1: 6, 2: 5, 3: 4, 4: 3, 5: 3, 6: 2, 7: 1}  # kick-offs against the ids' order
    days = {11: 2, 12: 1, 13: 1, 14: 3}  # days ago, finished
    add_fixtures(
        backend,
        *(fixture(i, kickoff=KICKOFF + timedelta(hours=h)) for i, h in hours.items()),
        *(fixture(i, status="FT", kickoff=NOW - timedelta(days=d)) for i, d in days.items()),
    )

    def page(stage: FixtureStage, number: int, count: int) -> tuple[list[int], int]:
        query = FixtureQuery(now=NOW, stage=stage, home="arsenal", page=number, count=count)
        with backend.uow() as uow:
            found, total = uow.fixtures.page(query)
        return [f.id for f in found], total

    assert page(FixtureStage.UPCOMING, 1, 3) == ([7, 6, 4], 7)
    assert page(FixtureStage.UPCOMING, 2, 3) == ([5, 3, 2], 7)
    assert page(FixtureStage.FINISHED, 1, 2) == ([12, 13], 4)
    assert page(FixtureStage.FINISHED, 2, 2) == ([11, 14], 4)


def test_every_status_counts_at_its_stage(backend: Backend) -> None:
    """One fixture per status the model names, all past kick-off but one: the totals are
    the model's own split (the trigger's status lists are the model's)."""
    past = NOW - timedelta(hours=3)
    statuses = sorted(NOT_STARTED_STATUSES | ENDED_STATUSES | {"1H", "HT", "2H", "PST"})
    stored = [fixture(i, status=s, kickoff=past) for i, s in enumerate(statuses, start=1)]
    add_fixtures(backend, *stored, fixture(99, kickoff=KICKOFF))
    ended = len(ENDED_STATUSES)
    assert totals(backend) == {
        None: len(stored) + 1,
        FixtureStage.UPCOMING: 1,
        FixtureStage.LIVE: len(stored) - ended,
        FixtureStage.FINISHED: ended,
    }
    with backend.uow() as uow:  # every one of them ends
        for f in stored:
            uow.fixtures.apply_result(MatchState(f.id, "FT", "Match Finished", 90, 0, 0), NOW)
        uow.commit()
    assert totals(backend)[FixtureStage.FINISHED] == len(stored)


def test_filtered_live_and_finished_pages_count_their_rows(backend: Backend) -> None:
    """A team filter with a stage reads the rest (latest first); a later page of it."""
    add_fixtures(
        backend,
        fixture(1, status="1H", kickoff=NOW - timedelta(hours=1)),
        fixture(2, status="2H", kickoff=NOW - timedelta(hours=2)),
        fixture(3, status="FT", kickoff=NOW - timedelta(days=1)),
        fixture(4, status="1H", kickoff=NOW - timedelta(hours=1), home="Nobody"),
        fixture(5, kickoff=KICKOFF),
    )

    def page(stage: FixtureStage, number: int) -> tuple[list[int], int]:
        with backend.uow() as uow:
            found, total = uow.fixtures.page(
                FixtureQuery(now=NOW, stage=stage, home="arsenal", page=number, count=1)
            )
        return [f.id for f in found], total

    assert page(FixtureStage.LIVE, 1) == ([1], 2)
    assert page(FixtureStage.LIVE, 2) == ([2], 2)
    assert page(FixtureStage.LIVE, 3) == ([], 2)
    assert page(FixtureStage.FINISHED, 1) == ([3], 1)
