"""A stand-in for the course broker's traffic, so that ``goat serve`` shows a living exchange.

``CourseSimulator`` decides what the course and the other groups would say; it is a pure,
seeded state machine driven by ``tick(now)`` and ``heard(topic, payload)``, so the same
seed and the same clock give the same messages. ``run_in_background`` runs it over a
link to a broker (``goat_app.compose.start_simulator`` builds one):

- ``fixtures/info``: upcoming fixtures with Match Winner odds, the first kicking off a
  couple of minutes after start, then one every few minutes; republished periodically
  and whenever a fixture is added (finished ones are replaced to keep a supply);
- ``fixtures/requests`` and ``fixtures/validation``: other groups buy bonds at a set
  rate and the course validates them a few seconds later;
- the course validates our group's wallet purchases it hears on ``fixtures/requests``;
- ``fixtures/history``: the fixtures that kicked off, with live then final status;
- ``fixtures/auctions``: other groups offer bonds, propose for our offers and answer our
  proposals (``goat_app.simulator_auctions``).

Matches are compressed: ``match_minutes`` of wall time play 90 minutes. With a
``state_file`` (``goat serve`` keeps one in its data directory) the season survives a
restart: the matches of the last run go on, and those that ended meanwhile are announced
finished, so that bets on them settle.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import os
import random
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import attrs

from goat_app.simulator_auctions import PeerAuctions
from goat_app.simulator_teams import PEER_GROUPS, TEAMS
from goat_core.model import Fixture, League, MatchState, Odds, Team
from goat_core.wire import (
    TOPIC_AUCTIONS,
    TOPIC_HISTORY,
    TOPIC_INFO,
    TOPIC_REQUESTS,
    TOPIC_VALIDATION,
    WIRE_DATETIME,
    render_fixtures,
    render_history,
)

__all__ = [
    "HEARD",
    "CourseSimulator",
    "SimulatorConfig",
    "SimulatorHandle",
    "SimulatorLink",
    "run_in_background",
]

log = logging.getLogger("goat.simulator")

Publish = Callable[[str, str], None]
HEARD = (TOPIC_REQUESTS, TOPIC_AUCTIONS)
"""What the simulator listens to: our requests (to validate) and our auction messages."""


def _logo(team_id: int) -> str:
    return f"https://media.api-sports.io/football/teams/{team_id}.png"


@attrs.frozen
class SimulatorConfig:
    """How lively the simulated course is; every duration is wall-clock time."""

    seed: int = 2024
    fixtures: int = 8
    first_kickoff: timedelta = timedelta(minutes=2)
    kickoff_spacing: timedelta = timedelta(minutes=3)
    match_minutes: float = 6.0
    purchase_every: float = 4.0
    """Mean seconds between two purchases of other groups (0 for none)."""
    validation_delay: float = 3.0
    info_every: float = 60.0
    history_every: float = 20.0
    reject_share: float = 0.1
    """Share of purchases the course rejects."""
    auction_every: float = 90.0
    """Mean seconds between two offers of other groups on fixtures/auctions (0 for none)."""
    state_file: Path | None = None
    """Where the season is kept, so that a restart resumes it (None: a new one each time)."""


@attrs.define
class _Match:
    fixture: Fixture
    goals_home: int
    goals_away: int


class CourseSimulator:
    """What the course and the other groups say, as a deterministic function of the clock."""

    def __init__(
        self, publish: Publish, group_id: str, start: datetime, config: SimulatorConfig
    ) -> None:
        self.publish = publish
        self.group_id = group_id
        self.config = config
        self.start = start
        self._random = random.Random(config.seed)  # noqa: S311  # a seeded simulation, not secrets
        self._base_id = 1_000_000_000 + (int(start.timestamp()) // 60 % 1_000_000) * 1000
        self._matches: list[_Match] = []
        self._due: list[tuple[datetime, int, str, str]] = []  # (when, order, topic, payload)
        self._order = 0
        self._added = 0
        self._next_kickoff = start + config.first_kickoff
        self._next_purchase = start + self._purchase_gap()
        self._next_info = start
        self._next_history = start + timedelta(seconds=config.history_every)
        self._validated: set[str] = set()
        self._lock = threading.Lock()
        self._owed: list[_Match] = []  # resumed matches whose final result is still to say
        self._auctions = PeerAuctions(self._random, group_id, config.auction_every)
        if self._resume():
            self._replace_finished(start)
        else:
            for _ in range(config.fixtures):
                self._add_match()
            self._save()

    @property
    def fixture_ids(self) -> list[int]:
        return [m.fixture.id for m in self._matches]

    def tick(self, now: datetime) -> None:
        """Publish everything that is due at ``now``."""
        with self._lock:
            if self._owed:  # before they are dropped as long over: their bets must settle
                owed, self._owed = self._owed, []
                self._send(TOPIC_HISTORY, render_history([self._result(m, now) for m in owed]))
            self._replace_finished(now)
            if now >= self._next_info:
                self._next_info = now + timedelta(seconds=self.config.info_every)
                self._send(
                    TOPIC_INFO, render_fixtures([self._state(m, now) for m in self._matches])
                )
            if now >= self._next_history:
                self._next_history = now + timedelta(seconds=self.config.history_every)
                started = [m for m in self._matches if m.fixture.kickoff <= now]
                if started:
                    self._send(
                        TOPIC_HISTORY, render_history([self._result(m, now) for m in started])
                    )
            while self.config.purchase_every > 0 and now >= self._next_purchase:
                self._peer_purchase(self._next_purchase)
                self._next_purchase += self._purchase_gap()
            upcoming = [m.fixture for m in self._matches if m.fixture.kickoff > now]
            for when, message in self._auctions.tick(now, upcoming):
                self._later(when, message)
            while self._due and self._due[0][0] <= now:
                _, _, topic, payload = heapq.heappop(self._due)
                self._send(topic, payload)

    def heard(self, topic: str, payload: bytes | str, now: datetime) -> None:
        """The course validates our group's wallet purchases a moment after hearing them;
        other groups answer our auction messages."""
        if topic == TOPIC_AUCTIONS:
            with self._lock:
                upcoming = [m.fixture for m in self._matches if m.fixture.kickoff > now]
                for when, message in self._auctions.heard(payload, now, upcoming):
                    self._later(when, message)
        if topic != TOPIC_REQUESTS:
            return
        try:
            message = json.loads(payload)
            if isinstance(message, str):
                message = json.loads(message)
            ours = str(message.get("group_id")) == self.group_id
            request_id = str(message["request_id"])
            wallet = message.get("wallet") is True
        except (ValueError, KeyError, AttributeError, TypeError):
            return
        with self._lock:
            if not (ours and wallet) or request_id in self._validated:
                return
            self._validated.add(request_id)
            valid = self._random.random() >= self.config.reject_share
            self._later(
                now + timedelta(seconds=1), self._validation(request_id, self.group_id, valid)
            )

    # -- internals --------------------------------------------------------------------

    def _send(self, topic: str, payload: str) -> None:
        try:
            self.publish(topic, payload)
        except Exception:
            log.exception("simulator could not publish on %s", topic)

    def _later(self, when: datetime, message: tuple[str, str]) -> None:
        self._order += 1
        heapq.heappush(self._due, (when, self._order, *message))

    def _validation(self, request_id: str, group_id: str, valid: bool) -> tuple[str, str]:
        body = {"request_id": request_id, "group_id": group_id, "seller": 0, "valid": valid}
        return TOPIC_VALIDATION, json.dumps(body)

    def _purchase_gap(self) -> timedelta:
        if self.config.purchase_every <= 0:
            return timedelta(days=3650)
        return timedelta(seconds=self._random.expovariate(1 / self.config.purchase_every))

    def _add_match(self) -> None:
        self._added += 1
        home, away = self._random.sample(TEAMS, 2)
        strength = self._random.uniform(-1.0, 1.0)  # > 0 favours the home side
        p_home = 0.45 + 0.3 * strength
        p_draw = 0.27 - 0.1 * abs(strength)
        p_away = 1 - p_home - p_draw
        margin = Decimal("1.06")  # bookmakers' overround

        def odd(p: float) -> Decimal:
            return (Decimal(1) / (Decimal(str(round(p, 3))) * margin)).quantize(Decimal("0.01"))

        kickoff = self._next_kickoff.replace(microsecond=0)
        self._next_kickoff += self.config.kickoff_spacing
        fixture = Fixture(
            id=self._base_id + self._added,
            kickoff=kickoff,
            league=_league(f"Regular Season - {8 + self._added // 10}"),
            home=Team(home[0], home[1], _logo(home[0])),
            away=Team(away[0], away[1], _logo(away[0])),
            referee="Simulated Referee",
            odds=Odds(odd(p_home), odd(p_draw), odd(p_away)),
        )
        goals_home = min(self._poisson(1.4 + 0.6 * strength), 7)
        goals_away = min(self._poisson(1.1 - 0.5 * strength), 7)
        self._matches.append(_Match(fixture, goals_home, goals_away))

    def _poisson(self, mean: float) -> int:
        mean = max(mean, 0.1)
        limit, count, product = math.exp(-mean), 0, self._random.random()
        while product > limit:
            count += 1
            product *= self._random.random()
        return count

    def _replace_finished(self, now: datetime) -> None:
        """Keep ``config.fixtures`` that have not ended; drop those ended long ago."""
        keep_for = timedelta(minutes=self.config.match_minutes * 3)
        before = len(self._matches)
        self._matches = [m for m in self._matches if now < self._end(m) + keep_for]
        live = sum(1 for m in self._matches if now < self._end(m))
        added = False
        while live < self.config.fixtures:
            self._next_kickoff = max(self._next_kickoff, now + self.config.first_kickoff)
            self._add_match()
            live += 1
            added = True
        if added or len(self._matches) != before:
            self._next_info = now
            self._save()

    # -- the season kept across restarts ----------------------------------------------

    def _save(self) -> None:
        path = self.config.state_file
        if path is None:
            return
        state = {
            "base_id": self._base_id,
            "added": self._added,
            "next_kickoff": self._next_kickoff.isoformat(),
            "matches": [_match_state(m) for m in self._matches],
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.tmp")
            temporary.write_text(json.dumps(state))
            os.replace(temporary, path)
        except OSError as error:
            log.warning("the simulator could not keep its season in %s: %s", path, error)

    def _resume(self) -> bool:
        """Take the season of the last run from the state file; False if there is none."""
        path = self.config.state_file
        if path is None or not path.is_file():
            return False
        try:
            state = json.loads(path.read_text())
            matches = [_match_of(m) for m in state["matches"]]
            base_id, added = int(state["base_id"]), int(state["added"])
            next_kickoff = datetime.fromisoformat(state["next_kickoff"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("the simulator starts a new season: %s is unreadable (%s)", path, error)
            return False
        self._matches, self._base_id, self._added = matches, base_id, added
        self._next_kickoff = next_kickoff
        self._owed = [m for m in matches if self._end(m) <= self.start]
        log.info(
            "simulator resumed %d fixtures of the last run (%d finished meanwhile)",
            len(matches),
            len(self._owed),
        )
        return True

    def _end(self, match: _Match) -> datetime:
        return match.fixture.kickoff + timedelta(minutes=self.config.match_minutes)

    def _minute(self, match: _Match, now: datetime) -> int:
        """The match minute at ``now`` (0 before kick-off, 90 once over)."""
        played = (now - match.fixture.kickoff) / timedelta(minutes=self.config.match_minutes)
        return max(0, min(90, int(played * 90)))

    def _result(self, match: _Match, now: datetime) -> MatchState:
        minute = self._minute(match, now)
        if now < match.fixture.kickoff:
            return MatchState(match.fixture.id, "NS", "Not Started")
        if now >= self._end(match):
            return MatchState(
                match.fixture.id, "FT", "Match Finished", 90, match.goals_home, match.goals_away
            )
        status, long = ("1H", "First Half") if minute < 45 else ("2H", "Second Half")
        return MatchState(
            match.fixture.id,
            status,
            long,
            minute,
            match.goals_home * minute // 90,
            match.goals_away * minute // 90,
        )

    def _state(self, match: _Match, now: datetime) -> Fixture:
        result = self._result(match, now)
        return attrs.evolve(
            match.fixture,
            status=result.status,
            status_long=result.status_long,
            elapsed=result.elapsed,
            goals_home=result.goals_home,
            goals_away=result.goals_away,
        )

    def _peer_purchase(self, at: datetime) -> None:
        upcoming = [m for m in self._matches if m.fixture.kickoff > at]
        if not upcoming:
            return
        match = self._random.choice(upcoming)
        fixture = match.fixture
        group = self._random.choice([g for g in PEER_GROUPS if g != self.group_id])
        result = self._random.choice(
            [fixture.home.name, fixture.away.name, "---", "home", "away", "draw"]
        )
        wallet = self._random.random() < 0.6
        request_id = str(uuid.UUID(int=self._random.getrandbits(128), version=4))
        request = {
            "request_id": request_id,
            # peers send group_id as a string or as an int
            "group_id": int(group) if self._random.random() < 0.3 else group,
            "fixture_id": fixture.id,
            "league_name": fixture.league.name,
            "round": fixture.league.round,
            "date": fixture.kickoff.date().isoformat(),
            "result": result,
            "deposit_token": "" if wallet else f"{self._random.getrandbits(256):064x}",
            "datetime": at.astimezone(UTC).strftime(WIRE_DATETIME),
            "quantity": self._random.randint(1, 4),
            "wallet": wallet,
            "seller": 0,
        }
        self._send(TOPIC_REQUESTS, json.dumps(request))
        valid = self._random.random() >= self.config.reject_share
        delay = timedelta(seconds=self._random.uniform(0.5, 2) * self.config.validation_delay)
        self._later(at + delay, self._validation(request_id, group, valid))


def _match_state(match: _Match) -> dict[str, Any]:
    f = match.fixture
    odds = f.odds
    return {
        "id": f.id,
        "kickoff": f.kickoff.isoformat(),
        "round": f.league.round,
        "home": [f.home.id, f.home.name],
        "away": [f.away.id, f.away.name],
        "odds": [str(odds.home), str(odds.draw), str(odds.away)] if odds else None,
        "goals": [match.goals_home, match.goals_away],
    }


def _match_of(state: dict[str, Any]) -> _Match:
    home, away, odds = state["home"], state["away"], state["odds"]
    fixture = Fixture(
        id=int(state["id"]),
        kickoff=datetime.fromisoformat(state["kickoff"]),
        league=_league(str(state["round"])),
        home=Team(int(home[0]), str(home[1]), _logo(int(home[0]))),
        away=Team(int(away[0]), str(away[1]), _logo(int(away[0]))),
        referee="Simulated Referee",
        odds=Odds(*(Decimal(o) for o in odds)) if odds else None,
    )
    return _Match(fixture, int(state["goals"][0]), int(state["goals"][1]))


def _league(round_: str) -> League:
    return League(
        id=39,
        name="Premier League",
        round=round_,
        country="England",
        logo="https://media.api-sports.io/football/leagues/39.png",
        flag="https://media.api-sports.io/flags/gb.svg",
        season=2024,
    )


class SimulatorLink(Protocol):
    """How the simulator talks to a broker (``goat_adapters.mqtt.PahoPeer``)."""

    on_message: Callable[[str, bytes], None] | None

    def start(self) -> object:
        """Connect in the background."""

    def publish(self, topic: str, payload: str) -> None:
        """Send a message (fire and forget: the link retries while disconnected)."""

    def stop(self) -> None:
        """Disconnect."""


@attrs.define
class SimulatorHandle:
    """A simulator running against a broker in a background thread."""

    simulator: CourseSimulator
    link: SimulatorLink
    stopping: threading.Event
    thread: threading.Thread

    def stop(self, timeout: float = 5.0) -> None:
        """Stop ticking and disconnect."""
        self.stopping.set()
        self.thread.join(timeout)
        self.link.stop()


def run_in_background(
    link: SimulatorLink,
    group_id: str,
    *,
    config: SimulatorConfig | None = None,
    tick_every: float = 0.25,
    where: str = "the broker",
) -> SimulatorHandle:
    """Run a ``CourseSimulator`` over ``link`` in a background thread.

    It hears our requests through the link (to validate our wallet purchases) and ticks
    every ``tick_every`` seconds. ``goat_app.compose.start_simulator`` builds the link.
    """
    config = config or SimulatorConfig()
    simulator = CourseSimulator(link.publish, group_id, datetime.now(UTC), config)

    def heard(topic: str, payload: bytes) -> None:
        simulator.heard(topic, payload, datetime.now(UTC))

    link.on_message = heard
    link.start()
    stopping = threading.Event()

    def run() -> None:
        while not stopping.is_set():
            try:
                simulator.tick(datetime.now(UTC))
            except Exception:  # a bug in one tick must not end the simulated course
                log.exception("the simulator's tick failed; it goes on")
            stopping.wait(tick_every)

    thread = threading.Thread(target=run, name="goat-simulator", daemon=True)
    thread.start()
    log.info(
        "course simulator on %s: %d fixtures, group %s is ours, seed %d",
        where,
        config.fixtures,
        group_id,
        config.seed,
    )
    return SimulatorHandle(simulator, link, stopping, thread)
