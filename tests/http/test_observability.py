"""What the API tells its operators: ``GET /metrics``, request ids, JSON log lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from litestar.utils.sync import AsyncCallable
from prometheus_client.parser import text_string_to_metric_families

from goat_app.logs import JsonFormatter, RequestContext
from goat_app.testing import MemoryApp
from goat_core.errors import Unavailable
from goat_core.services import Exchange
from tests.http.conftest import ALICE, buy, request_id_of


def scrape(api: MemoryApp) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``GET /metrics`` by name and labels."""
    answer = api.client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def purchases(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], outcome: str) -> float:
    """The ``goat_purchases_total`` counter of ``outcome`` (0 before its first)."""
    return samples.get(("goat_purchases_total", (("outcome", outcome),)), 0.0)


def test_metrics_count_purchases_by_outcome_and_time_routes(api: MemoryApp) -> None:
    """A purchase, a refusal for want of money and a request to a route move their counters."""
    before = scrape(api)
    api.client.put("/users/wallet", json={"amount": 1000}, headers=api.headers_for(ALICE))
    buy(api, ALICE, quantity=1)
    refused = api.client.post(
        "/requests",
        json={"fixture_id": 1, "result": "home", "quantity": 5, "wallet": True},
        headers=api.headers_for(ALICE),
    )
    assert refused.status_code == 402
    after = scrape(api)
    assert purchases(after, "bought") == purchases(before, "bought") + 1
    assert purchases(after, "not_enough_money") == purchases(before, "not_enough_money") + 1
    timed = ("method", "POST"), ("route", "/requests"), ("status", "201")
    assert after[("goat_http_request_duration_seconds_count", timed)] == 1
    assert after[("goat_outbox_backlog", ())] >= 1
    assert after[("goat_dead_letters", ())] == 0
    assert after[("goat_job_outbox_backlog", ())] >= 0
    assert after[("goat_database_up", ())] == 1


def test_request_id_is_echoed_or_made_up(api: MemoryApp) -> None:
    """A caller's X-Request-ID comes back unchanged; without one, each answer gets its own."""
    echoed = api.client.get("/fixtures", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    first = api.client.get("/fixtures").headers["x-request-id"]
    second = api.client.get("/nowhere").headers["x-request-id"]
    assert first
    assert second
    assert first != second


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """goat's access and HTTP lines written as JSON lines into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RequestContext())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("goat")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield buffer
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def test_json_log_lines_carry_request_and_purchase_ids(
    api: MemoryApp, json_lines: io.StringIO
) -> None:
    """In the JSON format every line parses alone, and a purchase's line names its request and
    purchase ids."""
    api.client.put("/users/wallet", json={"amount": 1000}, headers=api.headers_for(ALICE))
    created = buy(api, ALICE, quantity=1)
    api.client.get("/requests/not-a-purchase", headers=api.headers_for(ALICE))
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert lines
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    bought = [line for line in lines if line.get("route") == "/requests"]
    assert bought[-1]["purchase_id"] == request_id_of(created)
    assert bought[-1]["status"] == 201
    assert bought[-1]["request_id"]
    looked_up = [line for line in lines if line.get("purchase_id") == "not-a-purchase"]
    assert looked_up
    assert looked_up[-1]["status"] == 404


def test_the_edge_hooks_run_on_the_event_loop(api: MemoryApp) -> None:
    """Litestar runs a plain-function hook in a worker thread (``AsyncCallable``): a thread
    hop for each message of every answer. The app's hooks are coroutines, run in place."""
    hooks = [*api.app.before_send, *api.app.after_exception]
    assert hooks
    assert not [hook for hook in hooks if isinstance(hook, AsyncCallable)]


def test_a_known_callers_failed_purchase_is_logged_with_its_request_id(
    api: MemoryApp, json_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A purchase answered before the handler (``purchases_first``) that fails on our side
    (a 503) is logged with its request id, as through the handler."""
    api.client.put("/users/wallet", json={"amount": 1000}, headers=api.headers_for(ALICE))

    async def down(*_: object) -> None:
        raise Unavailable("the database is down")

    monkeypatch.setattr(Exchange, "buy_bonds_async", down)
    body = {"fixture_id": 1, "result": "home", "quantity": 1, "wallet": True}
    headers = {**api.headers_for(ALICE), "X-Request-ID": "rid-503"}
    answer = api.client.post("/requests", json=body, headers=headers)
    assert answer.status_code == 503
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    failed = [line for line in lines if "the database is down" in line["message"]]
    assert [line.get("request_id") for line in failed] == ["rid-503"]
