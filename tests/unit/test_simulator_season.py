"""``goat serve``'s simulated season across a restart: matches go on, and bets settle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs

from goat_adapters.memory import World
from goat_app.simulator import CourseSimulator, SimulatorConfig
from goat_core.model import PurchaseStatus
from goat_core.wire import TOPIC_HISTORY, TOPIC_INFO, parse_fixtures, parse_history

START = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)
SEASON = SimulatorConfig(
    seed=7,
    fixtures=3,
    first_kickoff=timedelta(seconds=30),
    kickoff_spacing=timedelta(seconds=30),
    match_minutes=1.0,
    purchase_every=0,
    info_every=10.0,
    history_every=5.0,
)

Sent = list[tuple[str, str]]


def _run(config: SimulatorConfig, start: datetime, seconds: int) -> Sent:
    """What a simulator started at ``start`` says in ``seconds``, ticking each second."""
    sent: Sent = []
    simulator = CourseSimulator(lambda t, p: sent.append((t, p)), "15", start, config)
    for second in range(seconds + 1):
        simulator.tick(start + timedelta(seconds=second))
    return sent


def _fixture_ids(sent: Sent) -> set[int]:
    return {f.id for t, p in sent if t == TOPIC_INFO for f in parse_fixtures(p)}


def _finals(sent: Sent) -> set[int]:
    return {
        r.fixture_id for t, p in sent if t == TOPIC_HISTORY for r in parse_history(p) if r.is_final
    }


def test_a_restart_finishes_the_matches_of_the_last_run(tmp_path: Path) -> None:
    """Stopped with matches in play, a simulator restarted much later announces every one of
    them finished, and its new fixtures take new ids."""
    config = attrs.evolve(SEASON, state_file=tmp_path / "simulator.json")
    before = _run(config, START, 45)  # the first match in play, the others not started
    later = START + timedelta(hours=2)

    after = _run(config, later, 1)

    first_run = _fixture_ids(before)
    assert len(first_run) == 3
    assert first_run <= _finals(after)
    assert _fixture_ids(after).isdisjoint(first_run)


def test_without_a_state_file_each_start_is_a_new_season(tmp_path: Path) -> None:
    """A simulator given no state file says nothing of an earlier run."""
    before = _run(SEASON, START, 45)
    after = _run(SEASON, START + timedelta(hours=2), 1)
    assert _finals(after).isdisjoint(_fixture_ids(before))


def test_a_match_in_play_at_the_restart_goes_on_to_its_result(tmp_path: Path) -> None:
    """Restarted during a match, the simulator keeps its kick-off and plays it to the end."""
    config = attrs.evolve(SEASON, state_file=tmp_path / "simulator.json")
    before = _run(config, START, 40)
    kickoffs = {f.id: f.kickoff for t, p in before if t == TOPIC_INFO for f in parse_fixtures(p)}

    after = _run(config, START + timedelta(seconds=50), 60)

    resumed = {f.id: f.kickoff for t, p in after if t == TOPIC_INFO for f in parse_fixtures(p)}
    first = min(kickoffs, key=lambda i: kickoffs[i])
    assert resumed[first] == kickoffs[first]
    assert first in _finals(after)


def test_a_bet_on_a_match_of_the_last_run_settles(tmp_path: Path) -> None:
    """A purchase on a fixture the last run left unfinished is won or lost after a restart."""
    config = attrs.evolve(SEASON, state_file=tmp_path / "simulator.json")
    world = World()
    for topic, payload in _run(config, START, 0):
        world.exchange.receive(topic, payload)
    fixture_id = min(_fixture_ids(_run(config, START, 0)))
    world.fund("auth0|alice", 1000)
    bought = world.buy("auth0|alice", fixture_id)
    world.validate(bought.purchase.request_id, True, group_id=world.exchange.rules.group_id)

    for topic, payload in _run(config, START + timedelta(hours=2), 1):
        world.exchange.receive(topic, payload)

    settled = world.purchase(bought.purchase.request_id).status
    assert settled in (PurchaseStatus.WON, PurchaseStatus.LOST)
