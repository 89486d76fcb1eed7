"""The course's broker format: parsing what peers send and rendering what we send."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given

from goat_core.errors import MalformedMessage
from goat_core.model import MatchState, Odds, Outcome
from goat_core.wire import (
    load,
    parse_fixtures,
    parse_history,
    parse_request,
    parse_validation,
    render_fixtures,
    render_history,
)
from tests import strategies
from tests.unit.support import make_fixture, request_payload, sample, sample_text


def test_fixtures_as_object_are_parsed_from_the_sample() -> None:
    """A fixtures/info document given as a JSON object yields every fixture with its data."""
    fixtures = parse_fixtures(sample_text("fixtures_info.json"))

    assert len(fixtures) == 10
    first = fixtures[0]
    assert first.id == 1208081
    assert (first.home.name, first.away.name) == ("Arsenal", "Southampton")
    assert first.league.round_number == 7
    assert first.status == "NS"
    assert first.kickoff.isoformat() == "2024-10-05T14:00:00+00:00"
    assert first.available_bonds is None


def test_fixtures_as_json_string_are_parsed_like_the_object() -> None:
    """A fixtures/info payload that is a JSON string holding the document is unwrapped."""
    as_string = parse_fixtures(sample_text("fixtures_info_as_string.json"))
    as_object = parse_fixtures(sample_text("fixtures_info.json"))

    assert len(as_string) == 2
    assert as_string == as_object[:2]


def test_odds_are_exact_decimals() -> None:
    """Match Winner odds are kept as the exact decimals written on the wire."""
    fixtures = parse_fixtures(sample_text("fixtures_info.json"))

    assert fixtures[0].odds == Odds(Decimal("1.20"), Decimal("6.50"), Decimal("13.00"))
    assert fixtures[0].odds is not None
    assert str(fixtures[0].odds.home) == "1.20"


def test_float_odds_keep_their_shortest_decimal() -> None:
    """An odd sent as a JSON number 1.85 becomes Decimal("1.85"), not its binary expansion."""
    document = json.loads(render_fixtures([make_fixture(1)]))
    document["fixtures"][0]["odds"][0]["values"][0]["odd"] = 1.85

    (fixture,) = parse_fixtures(json.dumps(document))

    assert fixture.odds is not None
    assert str(fixture.odds.home) == "1.85"


def test_fixture_without_match_winner_odds_has_none() -> None:
    """A fixture whose odds list has no "Match Winner" bet is kept without odds."""
    document = json.loads(render_fixtures([make_fixture(1)]))
    document["fixtures"][0]["odds"][0]["name"] = "Goals Over/Under"

    (fixture,) = parse_fixtures(json.dumps(document))

    assert fixture.odds is None


@given(strategies.fixtures())
def test_rendered_fixtures_parse_back_unchanged(fixture: Any) -> None:
    """render_fixtures and parse_fixtures are inverse for every fixture the model can hold."""
    assert parse_fixtures(render_fixtures([fixture])) == [fixture]


def test_history_sample_keeps_statuses_and_goals() -> None:
    """fixtures/history entries keep status and goals; unfinished ones have null goals."""
    results = parse_history(sample_text("history.json"))

    assert len(results) == 30
    assert results[0] == MatchState(1208083, "FT", "Match Finished", 90, 5, 3)
    assert results[0].is_final
    not_started = results[1]
    assert (not_started.status, not_started.goals_home, not_started.is_final) == ("NS", None, False)
    assert {r.status for r in results} >= {"FT", "NS", "HT", "1H", "2H"}


@pytest.mark.parametrize(
    ("status", "home", "away", "final"),
    [
        ("FT", 1, 0, True),
        ("AET", 2, 2, True),
        ("PEN", 0, 0, True),
        ("FT", None, 0, False),
        ("FT", 1, None, False),
        ("HT", 1, 0, False),
        ("2H", 3, 1, False),
        ("NS", None, None, False),
    ],
)
def test_only_finished_statuses_with_both_goals_are_final(
    status: str, home: int | None, away: int | None, final: bool
) -> None:
    """A result settles bonds only with status FT/AET/PEN and both goals known."""
    (result,) = parse_history(render_history([MatchState(1, status, None, None, home, away)]))

    assert result.is_final is final


def test_requests_sample_accepts_group_id_as_int_or_string() -> None:
    """group_id is read as a string whether a peer sends "6" or 2."""
    messages = [parse_request(json.dumps(item)) for item in sample("requests.json")]

    assert [m.group_id for m in messages] == ["6", "2", "8"]
    assert [m.result for m in messages] == ["Brentford", "---", "away"]
    assert messages[1].deposit_token.startswith("01ab5e8a")
    assert messages[1].wallet is False


def test_validations_sample_is_parsed() -> None:
    """Validation messages keep request id, group (as a string) and verdict."""
    messages = [parse_validation(json.dumps(item)) for item in sample("validations.json")]

    assert [(m.group_id, m.valid) for m in messages] == [("6", True), ("2", False)]


def test_validation_group_id_as_int_is_a_string() -> None:
    """A validation with an integer group_id is read like its string form."""
    message = parse_validation('{"request_id": "r", "group_id": 7, "valid": false}')

    assert message.group_id == "7"
    assert message.valid is False


def test_request_as_json_string_is_unwrapped() -> None:
    """A fixtures/requests payload that is a JSON string holding the object is accepted."""
    payload = json.dumps(json.dumps(request_payload("r1", quantity=3)))

    assert parse_request(payload).quantity == 3


@pytest.mark.parametrize(
    ("wire", "outcome"),
    [
        ("Arsenal", Outcome.HOME),
        ("arsenal", Outcome.HOME),
        ("Chelsea", Outcome.AWAY),
        ("---", Outcome.DRAW),
        ("home", Outcome.HOME),
        ("away", Outcome.AWAY),
        ("draw", Outcome.DRAW),
        ("Draw", Outcome.DRAW),
    ],
)
def test_result_is_read_as_team_name_dashes_or_side(wire: str, outcome: Outcome) -> None:
    """The wire result may be a team name, "---", or home/away/draw."""
    assert make_fixture(1).outcome_of(wire) is outcome


def test_unknown_result_reads_as_none() -> None:
    """A result naming neither team nor a side is not understood."""
    assert make_fixture(1).outcome_of("Liverpool") is None


def test_wire_result_is_team_name_or_dashes() -> None:
    """We write a home or away bet as the team name and a draw as "---"."""
    fixture = make_fixture(1)

    assert [fixture.wire_result(o) for o in Outcome] == ["Arsenal", "---", "Chelsea"]


def _fixture_doc(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render_fixtures([make_fixture(1)]))
    item = document["fixtures"][0]
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = item
        for parent in parents:
            target = target[parent]
        if value is _DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return document


_DELETE = object()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("not json", ""),
        ('"still not json"', ""),
        ("[]", ""),
        ('{"fixtures": {}}', "fixtures"),
        ('{"fixtures": [1]}', "fixtures[0]"),
        (json.dumps(_fixture_doc(fixture__id="one")), "fixtures[0].fixture.id"),
        (json.dumps(_fixture_doc(fixture__id=_DELETE)), "fixtures[0].fixture.id"),
        (json.dumps(_fixture_doc(fixture__id=True)), "fixtures[0].fixture.id"),
        (
            json.dumps(_fixture_doc(fixture__date="tomorrow")),
            "fixtures[0].fixture.date",
        ),
        (
            json.dumps(_fixture_doc(fixture__date=_DELETE, fixture__timestamp=_DELETE)),
            "fixtures[0].fixture.date",
        ),
        (json.dumps(_fixture_doc(teams__home=None)), "fixtures[0].teams.home"),
        (json.dumps(_fixture_doc(teams__away__name="")), "fixtures[0].teams.away.name"),
        (json.dumps(_fixture_doc(league__name=_DELETE)), "fixtures[0].league.name"),
        (json.dumps(_fixture_doc(odds={})), "fixtures[0].odds"),
        (json.dumps(_fixture_doc(goals__home="many")), "fixtures[0].goals.home"),
    ],
)
def test_malformed_fixtures_name_the_field(payload: str, field: str) -> None:
    """Each unusable part of a fixtures/info message raises MalformedMessage naming it."""
    with pytest.raises(MalformedMessage) as raised:
        parse_fixtures(payload)

    assert raised.value.field == field


@pytest.mark.parametrize(
    ("odd", "field"),
    [
        ("abc", "fixtures[0].odds[0].values[0].odd"),
        ("0", "fixtures[0].odds[0].values[0].odd"),
        ("-1.5", "fixtures[0].odds[0].values[0].odd"),
        ("NaN", "fixtures[0].odds[0].values[0].odd"),
        (None, "fixtures[0].odds[0].values[0].odd"),
        (True, "fixtures[0].odds[0].values[0].odd"),
    ],
)
def test_bad_odds_name_the_odd(odd: object, field: str) -> None:
    """An odd that is not a positive finite decimal is malformed, and the field says which."""
    document = _fixture_doc()
    document["fixtures"][0]["odds"][0]["values"][0]["odd"] = odd

    with pytest.raises(MalformedMessage) as raised:
        parse_fixtures(json.dumps(document))

    assert raised.value.field == field


def test_match_winner_without_a_draw_odd_is_malformed() -> None:
    """A Match Winner bet missing one of its three values names the values list."""
    document = _fixture_doc()
    del document["fixtures"][0]["odds"][0]["values"][1]

    with pytest.raises(MalformedMessage) as raised:
        parse_fixtures(json.dumps(document))

    assert raised.value.field == "fixtures[0].odds[0].values"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -2}, "quantity"),
        ({"quantity": "three"}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({"request_id": ""}, "request_id"),
        ({"request_id": 12}, "request_id"),
        ({"group_id": None}, "group_id"),
        ({"group_id": True}, "group_id"),
        ({"group_id": " "}, "group_id"),
        ({"fixture_id": "x"}, "fixture_id"),
        ({"result": None}, "result"),
        ({"wallet": "yes"}, "wallet"),
        ({"wallet": 1}, "wallet"),
        ({"seller": "none"}, "seller"),
        ({"league_name": 3}, "league_name"),
        # what a database could not keep: a NUL, or more than its column holds
        ({"request_id": "r\x00"}, "request_id"),
        ({"round": "\x00"}, "round"),
        ({"group_id": "6\x00"}, "group_id"),
        ({"request_id": "r" * 201}, "request_id"),
        ({"group_id": "6" * 33}, "group_id"),
        ({"league_name": "L" * 201}, "league_name"),
        ({"round": "R" * 201}, "round"),
        ({"date": "2" * 33}, "date"),
        ({"deposit_token": "t" * 201}, "deposit_token"),
    ],
)
def test_malformed_requests_name_the_field(changes: dict[str, Any], field: str) -> None:
    """Each unusable field of a fixtures/requests message raises MalformedMessage naming it."""
    payload = request_payload("r1") | changes

    with pytest.raises(MalformedMessage) as raised:
        parse_request(json.dumps(payload))

    assert raised.value.field == field


def test_a_request_at_its_columns_bounds_is_read() -> None:
    """The bounds are the columns' own: a field exactly as long as its column holds passes."""
    longest = {"request_id": "r" * 200, "group_id": "6" * 32, "league_name": "L" * 200}
    message = parse_request(json.dumps(request_payload("r1") | longest | {"date": "2" * 32}))

    assert (len(message.request_id), len(message.group_id), len(message.date)) == (200, 32, 32)


def test_numeric_strings_are_read_as_integers() -> None:
    """A peer sending quantity and fixture_id as digit strings is understood."""
    message = parse_request(
        json.dumps(request_payload("r1") | {"quantity": "4", "fixture_id": "1"})
    )

    assert (message.quantity, message.fixture_id) == (4, 1)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ('{"group_id": "1", "valid": true}', "request_id"),
        ('{"request_id": "r", "valid": true}', "group_id"),
        ('{"request_id": "r", "group_id": "1"}', "valid"),
        ('{"request_id": "r", "group_id": "1", "valid": "maybe"}', "valid"),
        ("[1, 2]", ""),
        ('{"request_id": "r\\u0000", "group_id": "1", "valid": true}', "request_id"),
        ('{"request_id": "r", "group_id": "1\\u0000", "valid": true}', "group_id"),
        (json.dumps({"request_id": "r" * 201, "group_id": "1", "valid": True}), "request_id"),
    ],
)
def test_malformed_validations_name_the_field(payload: str, field: str) -> None:
    """Each unusable field of a fixtures/validation message raises MalformedMessage naming it."""
    with pytest.raises(MalformedMessage) as raised:
        parse_validation(payload)

    assert raised.value.field == field


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"goals": {"home": 1, "away": 0}}, "fixtures[0].fixture"),
        ({"fixture": {"id": 1}, "goals": {}}, "fixtures[0].fixture.status"),
        ({"fixture": {"id": 1, "status": {}}}, "fixtures[0].fixture.status.short"),
        ({"fixture": {"status": {"short": "FT"}}}, "fixtures[0].fixture.id"),
        (
            {"fixture": {"id": 1, "status": {"short": "FT"}}, "goals": {"home": "x"}},
            "fixtures[0].goals.home",
        ),
    ],
)
def test_malformed_history_names_the_field(entry: dict[str, Any], field: str) -> None:
    """Each unusable part of a fixtures/history entry raises MalformedMessage naming it."""
    with pytest.raises(MalformedMessage) as raised:
        parse_history(json.dumps({"fixtures": [entry]}))

    assert raised.value.field == field


def test_history_entry_with_null_goals_is_an_unscored_result() -> None:
    """A history entry whose goals are null (not yet scored) parses with unknown goals."""
    entry = {"fixture": {"id": 7, "status": {"short": "NS"}}, "goals": None}

    (result,) = parse_history(json.dumps({"fixtures": [entry]}))

    assert (result.fixture_id, result.goals_home, result.goals_away) == (7, None, None)
    assert not result.is_final


@given(strategies.json_values())
def test_any_json_parses_or_is_malformed(value: Any) -> None:
    """Whatever JSON a peer sends, each parser returns or raises MalformedMessage, nothing else."""
    payload = json.dumps(value)
    for parse in (parse_fixtures, parse_history, parse_request, parse_validation):
        with contextlib.suppress(MalformedMessage):
            parse(payload)


def test_load_unwraps_one_level_of_string() -> None:
    """load() decodes a JSON document and a JSON string holding one, alike."""
    assert load('{"a": 1}') == load(json.dumps('{"a": 1}')) == {"a": 1}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", 2**31),
        ("fixture_id", 2**70),
        ("fixture_id", "²"),
        ("fixture_id", "--5"),
        ("seller", "9" * 5000),
    ],
)
def test_integers_out_of_range_are_malformed_not_a_crash(field: str, value: Any) -> None:
    """Integers a database cannot hold, or digits Python reads but JSON does not, are refused."""
    payload = {**request_payload("big"), field: value}

    with pytest.raises(MalformedMessage) as raised:
        parse_request(json.dumps(payload))

    assert raised.value.field == field


def test_an_odd_beyond_any_bookmaker_is_malformed() -> None:
    """An odd above 10,000 would only overflow a payout: the fixture is refused, naming it."""
    document = json.loads(render_fixtures([make_fixture(1)]))
    document["fixtures"][0]["odds"][0]["values"][0]["odd"] = "1e40"

    with pytest.raises(MalformedMessage) as raised:
        parse_fixtures(json.dumps(document))

    assert raised.value.field == "fixtures[0].odds[0].values[0].odd"


def test_a_timestamp_no_calendar_holds_is_malformed() -> None:
    """A fixture without a date and with an absurd timestamp is refused, naming the field."""
    document = json.loads(render_fixtures([make_fixture(1)]))
    del document["fixtures"][0]["fixture"]["date"]
    document["fixtures"][0]["fixture"]["timestamp"] = 10**20

    with pytest.raises(MalformedMessage) as raised:
        parse_fixtures(json.dumps(document))

    assert raised.value.field == "fixtures[0].fixture.timestamp"
