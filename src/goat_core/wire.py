"""The course's broker format (CONTRACT §3): parse payloads into domain types, render ours.

Parsing is lenient where peers differ (a payload that is a JSON string holding the
document, ``group_id`` as int or string, odds as strings or numbers) and strict
everywhere else: anything unusable raises ``MalformedMessage`` naming the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from goat_core.errors import MalformedMessage
from goat_core.model import (
    Fixture,
    League,
    MatchState,
    Odds,
    Purchase,
    RequestMessage,
    Team,
    ValidationMessage,
)

__all__ = [
    "MAX_INTEGER",
    "MAX_ODD",
    "MAX_QUANTITY",
    "TOPICS",
    "TOPIC_AUCTIONS",
    "TOPIC_HISTORY",
    "TOPIC_INFO",
    "TOPIC_REQUESTS",
    "TOPIC_VALIDATION",
    "WIRE_DATETIME",
    "load",
    "parse_fixtures",
    "parse_history",
    "parse_request",
    "parse_validation",
    "render_fixtures",
    "render_history",
    "render_request",
    "render_validation",
]


TOPIC_INFO = "fixtures/info"
TOPIC_REQUESTS = "fixtures/requests"
TOPIC_VALIDATION = "fixtures/validation"
TOPIC_HISTORY = "fixtures/history"
TOPIC_AUCTIONS = "fixtures/auctions"
TOPICS = (TOPIC_INFO, TOPIC_REQUESTS, TOPIC_VALIDATION, TOPIC_HISTORY, TOPIC_AUCTIONS)

WIRE_DATETIME = "%Y-%m-%dT%H:%M:%S UTC"

MAX_INTEGER = 2**63 - 1
"""Ids, goals and counts beyond a 64-bit integer are nonsense, and no database stores them."""
MAX_QUANTITY = 2**31 - 1
MAX_ODD = Decimal(10_000)
"""No bookmaker offers more; a larger odd would only overflow a payout."""
_INTEGER = re.compile(r"-?[0-9]{1,19}")


def load(payload: bytes | str) -> Any:
    """Decode a JSON payload, unwrapping a document sent as a JSON string."""
    try:
        data = json.loads(payload)
        if isinstance(data, str):
            data = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedMessage("", f"not JSON: {error}") from None
    except RecursionError:  # a peer's deeply nested document must not escape as a crash
        raise MalformedMessage("", "nested too deeply") from None
    return data


def parse_fixtures(payload: bytes | str) -> list[Fixture]:
    """A fixtures/info message: ``{"fixtures": [...]}`` in the API-Football shape."""
    items = _list(_object(load(payload), ""), "fixtures")
    return [
        _fixture(_object(item, f"fixtures[{i}]"), f"fixtures[{i}]") for i, item in enumerate(items)
    ]


def parse_history(payload: bytes | str) -> list[MatchState]:
    """A fixtures/history message: fixtures with status and goals."""
    items = _list(_object(load(payload), ""), "fixtures")
    results = []
    for i, raw in enumerate(items):
        at = f"fixtures[{i}]"
        item = _object(raw, at)
        info = _object(item.get("fixture"), f"{at}.fixture")
        status = _object(info.get("status"), f"{at}.fixture.status")
        goals = _object(item.get("goals") or {}, f"{at}.goals")
        results.append(
            MatchState(
                fixture_id=_int(info, "id", f"{at}.fixture"),
                status=_str(status, "short", f"{at}.fixture.status"),
                status_long=_opt_str(status, "long", f"{at}.fixture.status"),
                elapsed=_opt_int(status, "elapsed", f"{at}.fixture.status"),
                goals_home=_opt_int(goals, "home", f"{at}.goals"),
                goals_away=_opt_int(goals, "away", f"{at}.goals"),
            )
        )
    return results


def parse_request(payload: bytes | str) -> RequestMessage:
    """A fixtures/requests message."""
    data = _object(load(payload), "")
    quantity = _int(data, "quantity")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise MalformedMessage("quantity", f"must be from 1 to {MAX_QUANTITY}")
    return RequestMessage(
        request_id=_str(data, "request_id", limit=200),
        group_id=_group(data),
        fixture_id=_int(data, "fixture_id"),
        result=_str(data, "result"),
        quantity=quantity,
        wallet=_bool(data, "wallet"),
        league_name=_opt_str(data, "league_name", limit=200) or "",
        round=_opt_str(data, "round", limit=200) or "",
        date=_opt_str(data, "date", limit=32) or "",
        deposit_token=_opt_str(data, "deposit_token", limit=200) or "",
        datetime=_opt_str(data, "datetime") or "",
        seller=_opt_int(data, "seller") or 0,
    )


def parse_validation(payload: bytes | str) -> ValidationMessage:
    """A fixtures/validation message."""
    data = _object(load(payload), "")
    return ValidationMessage(
        request_id=_str(data, "request_id", limit=200),
        group_id=_group(data),
        valid=_bool(data, "valid"),
        seller=_opt_int(data, "seller") or 0,
    )


def render_request(purchase: Purchase, fixture: Fixture) -> str:
    """Our purchase as a fixtures/requests message."""
    return json.dumps(
        {
            "request_id": purchase.request_id,
            "group_id": purchase.group_id,
            "fixture_id": purchase.fixture_id,
            "league_name": purchase.league_name,
            "round": purchase.round,
            "date": purchase.date,
            "result": fixture.wire_result(purchase.result),
            "deposit_token": purchase.deposit_token,
            "datetime": purchase.created_at.astimezone(UTC).strftime(WIRE_DATETIME),
            "quantity": purchase.quantity,
            "wallet": purchase.wallet,
            "seller": purchase.seller,
        }
    )


def render_validation(message: ValidationMessage) -> str:
    """A validation as a fixtures/validation message."""
    return json.dumps(
        {
            "request_id": message.request_id,
            "group_id": message.group_id,
            "seller": message.seller,
            "valid": message.valid,
        }
    )


def render_fixtures(fixtures: list[Fixture]) -> str:
    """Fixtures as a fixtures/info message (used by the simulator and tests)."""
    return json.dumps({"fixtures": [_fixture_document(f) for f in fixtures]})


def render_history(results: list[MatchState]) -> str:
    """Results as a fixtures/history message (used by the simulator and tests)."""
    return json.dumps(
        {
            "fixtures": [
                {
                    "fixture": {
                        "id": r.fixture_id,
                        "status": {"long": r.status_long, "short": r.status, "elapsed": r.elapsed},
                    },
                    "goals": {"home": r.goals_home, "away": r.goals_away},
                }
                for r in results
            ]
        }
    )


def _fixture_document(f: Fixture) -> dict[str, Any]:
    odds: list[dict[str, Any]] = []
    if f.odds:
        odds = [
            {
                "id": 1,
                "name": "Match Winner",
                "values": [
                    {"value": "Home", "odd": str(f.odds.home)},
                    {"value": "Draw", "odd": str(f.odds.draw)},
                    {"value": "Away", "odd": str(f.odds.away)},
                ],
            }
        ]
    return {
        "fixture": {
            "id": f.id,
            "referee": f.referee,
            "timezone": f.timezone,
            "date": f.kickoff.isoformat(),
            "timestamp": int(f.kickoff.timestamp()),
            "status": {"long": f.status_long, "short": f.status, "elapsed": f.elapsed},
        },
        "league": {
            "id": f.league.id,
            "name": f.league.name,
            "country": f.league.country,
            "logo": f.league.logo,
            "flag": f.league.flag,
            "season": f.league.season,
            "round": f.league.round,
        },
        "teams": {"home": _team_document(f.home), "away": _team_document(f.away)},
        "goals": {"home": f.goals_home, "away": f.goals_away},
        "odds": odds,
    }


def _team_document(team: Team) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "logo": team.logo, "winner": None}


def _fixture(item: Mapping[str, Any], at: str) -> Fixture:
    info = _object(item.get("fixture"), f"{at}.fixture")
    status = _object(info.get("status", {}), f"{at}.fixture.status")
    league = _object(item.get("league"), f"{at}.league")
    teams = _object(item.get("teams"), f"{at}.teams")
    goals = _object(item.get("goals") or {}, f"{at}.goals")
    return Fixture(
        id=_int(info, "id", f"{at}.fixture"),
        kickoff=_kickoff(info, f"{at}.fixture"),
        referee=_opt_str(info, "referee", f"{at}.fixture"),
        timezone=_opt_str(info, "timezone", f"{at}.fixture") or "UTC",
        status=_opt_str(status, "short", f"{at}.fixture.status") or "NS",
        status_long=_opt_str(status, "long", f"{at}.fixture.status"),
        elapsed=_opt_int(status, "elapsed", f"{at}.fixture.status"),
        league=League(
            id=_opt_int(league, "id", f"{at}.league"),
            name=_str(league, "name", f"{at}.league"),
            round=_opt_str(league, "round", f"{at}.league") or "",
            country=_opt_str(league, "country", f"{at}.league"),
            logo=_opt_str(league, "logo", f"{at}.league"),
            flag=_opt_str(league, "flag", f"{at}.league"),
            season=_opt_int(league, "season", f"{at}.league"),
        ),
        home=_team(teams.get("home"), f"{at}.teams.home"),
        away=_team(teams.get("away"), f"{at}.teams.away"),
        goals_home=_opt_int(goals, "home", f"{at}.goals"),
        goals_away=_opt_int(goals, "away", f"{at}.goals"),
        odds=_odds(item.get("odds"), f"{at}.odds"),
    )


def _team(raw: Any, at: str) -> Team:
    team = _object(raw, at)
    return Team(
        id=_int(team, "id", at), name=_str(team, "name", at), logo=_opt_str(team, "logo", at)
    )


def _odds(raw: Any, at: str) -> Odds | None:
    """The "Match Winner" bet of the odds list, or None if it is absent."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise MalformedMessage(at, "must be a list")
    for i, item in enumerate(raw):
        bet_at = f"{at}[{i}]"
        bet = _object(item, bet_at)
        if bet.get("name") != "Match Winner":
            continue
        by_value = {}
        for j, raw_value in enumerate(_list(bet, "values", bet_at)):
            value = _object(raw_value, f"{bet_at}.values[{j}]")
            by_value[str(value.get("value", "")).casefold()] = _decimal(
                value, "odd", f"{bet_at}.values[{j}]"
            )
        try:
            return Odds(home=by_value["home"], draw=by_value["draw"], away=by_value["away"])
        except KeyError as missing:
            raise MalformedMessage(f"{bet_at}.values", f"no {missing.args[0]!r} odd") from None
    return None


def _kickoff(info: Mapping[str, Any], at: str) -> datetime:
    raw = info.get("date")
    if isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise MalformedMessage(f"{at}.date", "not an ISO 8601 date-time") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    stamp = info.get("timestamp")
    if isinstance(stamp, int) and not isinstance(stamp, bool):
        try:
            return datetime.fromtimestamp(stamp, UTC)
        except (OverflowError, OSError, ValueError):
            raise MalformedMessage(f"{at}.timestamp", "not a time goat can represent") from None
    raise MalformedMessage(f"{at}.date", "missing")


def _name(at: str, key: str) -> str:
    return f"{at}.{key}" if at else key


def _object(raw: Any, at: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise MalformedMessage(at, "must be a JSON object")
    return raw


def _list(data: Mapping[str, Any], key: str, at: str = "") -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise MalformedMessage(_name(at, key), "must be a list")
    return value


def _str(data: Mapping[str, Any], key: str, at: str = "", *, limit: int | None = None) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MalformedMessage(_name(at, key), "must be a non-empty string")
    return value if limit is None else _storable(value, _name(at, key), limit)


def _opt_str(
    data: Mapping[str, Any], key: str, at: str = "", *, limit: int | None = None
) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedMessage(_name(at, key), "must be a string")
    return value if limit is None else _storable(value, _name(at, key), limit)


def _storable(value: str, name: str, limit: int) -> str:
    """A purchase's field, if its column can keep it: no NUL character, at most ``limit``
    long. (A request may be parked, and its purchase written with a fixture's: a field
    the database refuses then would fail the fixture's transaction, not the request.)"""
    if "\0" in value:
        raise MalformedMessage(name, "must not contain a NUL character")
    if len(value) > limit:
        raise MalformedMessage(name, f"must be at most {limit} characters")
    return value


def _int(data: Mapping[str, Any], key: str, at: str = "") -> int:
    value = _opt_int(data, key, at)
    if value is None:
        raise MalformedMessage(_name(at, key), "missing")
    return value


def _opt_int(data: Mapping[str, Any], key: str, at: str = "") -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_INTEGER:
        raise MalformedMessage(_name(at, key), "must be a 64-bit integer")
    return value


def _bool(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    raise MalformedMessage(key, "must be true or false")


def _decimal(data: Mapping[str, Any], key: str, at: str) -> Decimal:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MalformedMessage(_name(at, key), "must be a decimal number")
    try:
        # str() keeps a float's shortest repr, so 1.85 stays 1.85, never 1.8500000000000000888
        number = Decimal(str(value))
    except InvalidOperation:
        raise MalformedMessage(_name(at, key), "must be a decimal number") from None
    if not number.is_finite() or not 0 < number <= MAX_ODD:
        raise MalformedMessage(
            _name(at, key), f"must be a decimal number above 0, at most {MAX_ODD}"
        )
    return number


def _group(data: Mapping[str, Any]) -> str:
    value = data.get("group_id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.strip():
        return _storable(value.strip(), "group_id", 32)
    raise MalformedMessage("group_id", "must be a string or an integer")
