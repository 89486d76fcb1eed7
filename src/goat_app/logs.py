"""Log lines: one per event, as text or as JSON lines (``GOAT_LOG_FORMAT=json``).

Every line written while an HTTP request is handled carries its request id (the
``X-Request-ID`` header, echoed or made up) and, once known, the purchase's id: the HTTP
edge (``goat_app.http.observe``) sets them in ``REQUEST``, a context variable that Litestar
copies into the handler's thread, and ``RequestContext`` copies them onto each record.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Literal

import attrs

__all__ = [
    "REQUEST",
    "JsonFormatter",
    "LogFormat",
    "RequestContext",
    "RequestLog",
    "configure_logging",
    "note_purchase",
]

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@attrs.define
class RequestLog:
    """What the lines of one HTTP request share (mutable: the handler's thread adds the
    purchase id to the same object the edge reads)."""

    request_id: str
    purchase_id: str | None = None


REQUEST: contextvars.ContextVar[RequestLog | None] = contextvars.ContextVar(
    "goat_request", default=None
)


def note_purchase(purchase_id: str) -> None:
    """Tag the current request's log lines with ``purchase_id`` (no request: nothing)."""
    current = REQUEST.get()
    if current is not None:
        current.purchase_id = purchase_id


class RequestContext(logging.Filter):
    """Copies the current request's ids onto each record (unless the call passed its own
    in ``extra``), so every formatter can print them."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = REQUEST.get()
        if current is not None:
            if getattr(record, "request_id", None) is None:
                record.request_id = current.request_id
            if getattr(record, "purchase_id", None) is None and current.purchase_id:
                record.purchase_id = current.purchase_id
        return True


METRICS_NAMESPACE = "Goat"
"""Where a log line's ``metrics`` go on CloudWatch (deploy/aws/goat_alarms.py)."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request and purchase
    ids when there are some, and a traceback folded into the same line."""

    EXTRA = ("request_id", "purchase_id", "method", "route", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in self.EXTRA:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        metrics = getattr(record, "metrics", None)
        if isinstance(metrics, dict) and metrics:  # CloudWatch's embedded metric format
            line.update(metrics)
            line["_aws"] = {
                "Timestamp": int(record.created * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": METRICS_NAMESPACE,
                        "Dimensions": [[]],
                        "Metrics": [{"Name": name, "Unit": "Count"} for name in metrics],
                    }
                ],
            }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(
    log_format: LogFormat = "text", level: int = logging.INFO, stream: IO[str] | None = None
) -> None:
    """Send every logger's lines (goat's, uvicorn's, Litestar's) to ``stream`` (stderr) in
    one format, replacing the root logger's handlers."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestContext())
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
