"""Recommendations: a user's top three upcoming fixtures by the course formula (CONTRACT §2)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from goat_core.model import Fixture, Recommendation, Recommendations, round_number
from goat_core.ports import FixtureLine
from goat_core.services.context import Context

__all__ = ["Recommending", "rank"]


class Recommending:
    """Computing recommendations (a job: ``goat_core.jobs.Recommend``)."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def recommend(self, user_id: str) -> Recommendations:
        """Recompute and store a user's top three upcoming fixtures."""
        now = self._context.clock.now()
        with self._context.uow() as uow:
            hits = uow.purchases.won_bonds_by_team(user_id)
            items: tuple[Recommendation, ...] = ()  # nothing won yet: no fixture scores
            if hits:
                upcoming = uow.fixtures.lines(now, hits.keys())
                items = rank(upcoming, hits, uow.recommendations.get(user_id))
            fresh = Recommendations(user_id=user_id, updated_at=now, items=items)
            uow.recommendations.put(fresh)
            uow.commit()
        return fresh


def rank(
    upcoming: Sequence[Fixture | FixtureLine],
    hits: dict[str, int],
    previous: Recommendations | None,
) -> tuple[Recommendation, ...]:
    """The course formula: pond = hits × league_round / odd of the involved team; top 3.

    ``hits`` counts a user's won bonds by the team they backed. A fixture involving two
    backed teams adds both terms. Fixtures recommended last time move to the front.
    Every fixture is scored roughly (floats) first; only those that may be in the top
    three get the exact (decimal) pond that ranks and is stored.
    """
    rough: list[tuple[float, FixtureLine]] = []
    for given in upcoming:
        line = given if isinstance(given, FixtureLine) else FixtureLine.of(given)
        if line is None:
            continue
        home, away = hits.get(line.home, 0), hits.get(line.away, 0)
        if not (home or away):
            continue
        number = round_number(line.round)
        score = number * (home / float(line.odds_home) + away / float(line.odds_away))
        if score > 0:
            rough.append((score, line))
    if len(rough) > 3:
        rough.sort(key=lambda pair: -pair[0])
        floor = rough[2][0] * (1 - 1e-9)  # far wider than a float's error
        rough = [pair for pair in rough if pair[0] >= floor]
    scored = [Recommendation(line.fixture_id, _pond(line, hits)) for _, line in rough]
    scored.sort(key=lambda r: (-r.pond, r.fixture_id))
    top = scored[:3]
    before = {r.fixture_id for r in previous.items} if previous else set()
    return tuple(sorted(top, key=lambda r: r.fixture_id not in before))


def _pond(line: FixtureLine, hits: dict[str, int]) -> Decimal:
    """The exact pond of one fixture."""
    number = round_number(line.round)
    pond = Decimal(0)
    for team, odd in ((line.home, line.odds_home), (line.away, line.odds_away)):
        count = hits.get(team, 0)
        if count:
            pond += Decimal(count * number) / odd
    return pond
