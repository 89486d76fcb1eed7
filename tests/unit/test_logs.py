"""Log lines: ``GOAT_LOG_FORMAT`` chooses text or JSON lines, one line per event."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from goat_app.logs import REQUEST, RequestLog, configure_logging, note_purchase
from goat_app.settings import Settings, SettingsError


@pytest.fixture
def root_restored() -> Iterator[None]:
    """The root logger's handlers and level as they were before the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def test_log_format_setting_is_text_or_json() -> None:
    """GOAT_LOG_FORMAT is text by default, json when asked, and anything else is refused."""
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"GOAT_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(SettingsError, match="GOAT_LOG_FORMAT"):
        Settings.from_env({"GOAT_LOG_FORMAT": "xml"})


@pytest.mark.usefixtures("root_restored")
def test_json_lines_parse_one_by_one_with_ids_and_tracebacks() -> None:
    """Each JSON line parses alone; lines during a request carry its ids, and a traceback
    stays inside its line."""
    stream = io.StringIO()
    configure_logging("json", stream=stream)
    log = logging.getLogger("goat.test")
    log.info("outside any request")
    token = REQUEST.set(RequestLog("req-1"))
    try:
        note_purchase("purchase-9")
        log.warning("inside with %s", "arguments")
        try:
            raise RuntimeError("boom\nsecond line")
        except RuntimeError:
            log.exception("failed")
    finally:
        REQUEST.reset(token)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == [
        "outside any request",
        "inside with arguments",
        "failed",
    ]
    assert "request_id" not in lines[0]
    assert lines[1]["request_id"] == "req-1"
    assert lines[1]["purchase_id"] == "purchase-9"
    assert lines[1]["level"] == "WARNING"
    assert "RuntimeError: boom" in lines[2]["exception"]


@pytest.mark.usefixtures("root_restored")
def test_backlogs_in_json_are_cloudwatch_embedded_metrics() -> None:
    """A backlog report under JSON logs is one EMF record: namespace Goat, each value a metric."""
    from goat_app.broker import report_backlogs

    stream = io.StringIO()
    configure_logging("json", stream=stream)

    report_backlogs(lambda: {"OutboxBacklog": 3, "JobOutboxBacklog": 0})

    [line] = [json.loads(text) for text in stream.getvalue().splitlines() if "backlogs" in text]
    [directive] = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Goat"
    assert [m["Name"] for m in directive["Metrics"]] == ["OutboxBacklog", "JobOutboxBacklog"]
    assert (line["OutboxBacklog"], line["JobOutboxBacklog"]) == (3, 0)
