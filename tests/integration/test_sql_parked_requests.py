"""A peer's request and its fixture's announcement arriving at once, on real PostgreSQL."""

from __future__ import annotations

import json

import pytest

from goat_core.wire import TOPIC_INFO, TOPIC_REQUESTS, render_fixtures
from tests.contract.builders import fixture
from tests.integration.test_sql_concurrency import BONDS, Market, interleave


def early_request(request_id: str, quantity: int) -> str:
    return json.dumps(
        {
            "request_id": request_id,
            "group_id": 6,
            "fixture_id": 2,
            "result": "Chelsea",
            "quantity": quantity,
            "wallet": True,
            "deposit_token": "",
            "datetime": "2024-10-01T12:00:00 UTC",
            "seller": 0,
        }
    )


def reserved_on_fixture_2(market: Market) -> int:
    with market.database.unit_of_work() as uow:
        stored = uow.fixtures.get(2)
    assert stored is not None
    assert stored.available_bonds is not None
    return BONDS - stored.available_bonds


@pytest.mark.integration
@pytest.mark.parametrize("parked_first", [True, False], ids=["parking-first", "fixture-first"])
def test_a_request_racing_its_fixture_is_applied_once(
    fresh_database_url: str, parked_first: bool
) -> None:
    """Whichever commits first, a request parked while its fixture arrives is applied once."""
    market = Market.open(fresh_database_url)
    request = (TOPIC_REQUESTS, early_request("early-1", 3))
    info = (TOPIC_INFO, render_fixtures([fixture(2)]))
    try:
        interleave(market, *((request, info) if parked_first else (info, request)))
        with market.database.unit_of_work() as uow:
            purchase = uow.purchases.get("early-1")
            assert uow.parked_requests.take_arrived() == []
        assert purchase is not None
        assert purchase.reserved == 3
        assert reserved_on_fixture_2(market) == 3
    finally:
        market.database.dispose()
