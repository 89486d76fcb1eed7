"""Recommendations: a user's top three upcoming fixtures by the course formula (CONTRACT §2)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from goat_core.model import Fixture, Outcome, Recommendation, Recommendations
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
            won = uow.purchases.won_by_user(user_id)
            fixtures = uow.fixtures.get_many({p.fixture_id for p in won})
            hits: dict[str, int] = {}
            for p in won:
                fixture = fixtures.get(p.fixture_id)
                team = fixture.team_for(p.result) if fixture else None
                if team is not None:
                    hits[team.name] = hits.get(team.name, 0) + p.quantity
            items: tuple[Recommendation, ...] = ()  # nothing won yet: no fixture scores
            if hits:
                upcoming = uow.fixtures.upcoming(now)
                items = rank(upcoming, hits, uow.recommendations.get(user_id))
            fresh = Recommendations(user_id=user_id, updated_at=now, items=items)
            uow.recommendations.put(fresh)
            uow.commit()
        return fresh


def rank(
    upcoming: Sequence[Fixture], hits: dict[str, int], previous: Recommendations | None
) -> tuple[Recommendation, ...]:
    """The course formula: pond = hits × league_round / odd of the involved team; top 3.

    ``hits`` counts a user's won bonds by the team they backed. A fixture involving two
    backed teams adds both terms. Fixtures recommended last time move to the front.
    """
    scored = []
    for fixture in upcoming:
        pond = Decimal(0)
        for outcome, team in ((Outcome.HOME, fixture.home), (Outcome.AWAY, fixture.away)):
            count = hits.get(team.name, 0)
            if count and fixture.odds:
                pond += Decimal(count * fixture.league.round_number) / fixture.odds.for_outcome(
                    outcome
                )
        if pond > 0:
            scored.append(Recommendation(fixture.id, pond))
    scored.sort(key=lambda r: (-r.pond, r.fixture_id))
    top = scored[:3]
    before = {r.fixture_id for r in previous.items} if previous else set()
    return tuple(sorted(top, key=lambda r: r.fixture_id not in before))
