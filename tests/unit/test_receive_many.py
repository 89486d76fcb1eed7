"""``receive_many``: a lot of broker messages ends as if each had been received alone."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from goat_core.model import MatchState
from goat_core.wire import TOPIC_HISTORY, TOPIC_REQUESTS, TOPIC_VALIDATION, render_history
from tests.unit.support import World, make_fixture, request_payload

_REQUEST = st.builds(
    lambda rid, fixture, quantity, group, result: (
        TOPIC_REQUESTS,
        json.dumps(
            request_payload(
                f"r{rid}", fixture_id=fixture, quantity=quantity, group_id=group, result=result
            )
        ),
    ),
    st.integers(0, 5),
    st.sampled_from([1, 1, 2, 9]),  # 9 is not announced: parked
    st.integers(1, 25),
    st.sampled_from(["6", "6", 7, "15"]),  # 15 is ours
    st.sampled_from(["Arsenal", "---", "away"]),
)
_VERDICT = st.builds(
    lambda rid, valid: (
        TOPIC_VALIDATION,
        json.dumps({"request_id": f"r{rid}", "group_id": "6", "seller": 0, "valid": valid}),
    ),
    st.integers(0, 5),
    st.booleans(),
)


def _world() -> World:
    """Two fixtures, and three purchases of our users (by wallet) waiting for a verdict."""
    world = World()
    world.add_fixtures(make_fixture(1), make_fixture(2))
    for user, fixture_id in (("auth0|zed", 1), ("auth0|amy", 1), ("auth0|amy", 2)):
        world.fund(user, 10_000)
        world.buy(user, fixture_id)
    return world


OURS = [purchase.request_id for purchase in _world().store.purchases()]
_OUR_VERDICT = st.builds(  # a refund, or a settlement once the fixture has ended
    lambda rid, valid: (
        TOPIC_VALIDATION,
        json.dumps({"request_id": rid, "group_id": "15", "seller": 0, "valid": valid}),
    ),
    st.sampled_from(OURS),
    st.booleans(),
)
_RESULT = st.builds(  # a final result pays our winners
    lambda fixture, status, home, away: (
        TOPIC_HISTORY,
        render_history([MatchState(fixture, status, None, 90, home, away)]),
    ),
    st.sampled_from([1, 2]),
    st.sampled_from(["FT", "FT", "1H"]),
    st.integers(0, 2),
    st.integers(0, 2),
)
_MESSAGE = st.one_of(_REQUEST, _REQUEST, _VERDICT, _OUR_VERDICT, _RESULT)


@settings(max_examples=150, deadline=None)
@given(
    before=st.lists(_MESSAGE, max_size=4),
    lot=st.lists(_MESSAGE, min_size=2, max_size=12),
)
def test_a_lot_ends_as_one_by_one(
    before: list[tuple[str, str]], lot: list[tuple[str, str]]
) -> None:
    """Whatever the lot (repeats, a request id reused, our own group, fixtures sold out or
    not announced, verdicts parked before their requests, verdicts on our purchases and
    final results, which cut the lot into several transactions), receiving it at once answers
    and stores exactly what receiving each message alone would."""
    alone, together = _world(), _world()
    for topic, payload in before:
        alone.exchange.receive(topic, payload)
        together.exchange.receive(topic, payload)

    one_by_one = [alone.exchange.receive(topic, payload) for topic, payload in lot]
    at_once = together.exchange.receive_many(lot)

    assert at_once == one_by_one
    assert together.snapshot() == alone.snapshot()
    assert together.store.dead_letters() == alone.store.dead_letters()
