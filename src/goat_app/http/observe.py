"""What the API observes of each request, at the edge: request ids, metrics, access lines.

- ``request_context`` (middleware, after routing): the request's id (its ``X-Request-ID``
  header, or a new one) and start time, and ``logs.REQUEST`` for the lines the handler
  writes.
- ``refusal_noted`` (an ``after_exception`` hook): which error refused the request.
- ``response_observed`` (a ``before_send`` hook, so error answers and unknown routes too):
  echoes ``X-Request-ID``, and when the answer is complete observes its latency by route
  template, counts ``POST /requests`` by outcome and writes one access line.
- ``MetricsController``: ``GET /metrics`` in Prometheus' text format.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from goat_app.logs import REQUEST, RequestLog
from goat_app.metrics import CONTENT_TYPE, HttpMetrics, render
from goat_core.errors import GoatError

__all__ = [
    "REQUEST_ID_HEADER",
    "MetricsController",
    "in_request",
    "refusal_noted",
    "request_context",
    "response_observed",
]

access = logging.getLogger("goat.access")

REQUEST_ID_HEADER = "x-request-id"

_STATE = "goat.observed"
"""The key of this module's ``_Observed`` in the scope's state."""

_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
"""A caller's request id is kept when it is short and printable (it goes into log lines)."""

_PURCHASE_ROUTES = {"/requests/{request_id}", "/requests/{request_id}/receipt"}


class _Observed:
    """What the hooks of one request share, kept in the scope's state."""

    def __init__(self, request: RequestLog) -> None:
        self.request = request
        self.started: float | None = None
        self.status = 0
        self.refusal: str | None = None


def _observed(scope: Scope) -> _Observed:
    state: dict[str, Any] = scope.setdefault("state", {})
    found = state.get(_STATE)
    if found is None:
        found = state[_STATE] = _Observed(RequestLog(_request_id(scope)))
    return found


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name.lower() == REQUEST_ID_HEADER.encode():
            given = value.decode("latin-1")
            if _ACCEPTABLE_ID.fullmatch(given):
                return given
    return uuid.uuid4().hex


def request_context(app: ASGIApp) -> ASGIApp:
    """Start the request's clock and set its ids for the handler's log lines."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        observed = _observed(scope)
        observed.started = time.perf_counter()
        purchase = scope.get("path_params", {}).get("request_id")
        if scope.get("path_template") in _PURCHASE_ROUTES and isinstance(purchase, str):
            observed.request.purchase_id = purchase
        token = REQUEST.set(observed.request)
        try:
            await app(scope, receive, send)
        finally:
            REQUEST.reset(token)

    return middleware


@contextlib.contextmanager
def in_request(scope: Scope) -> Iterator[None]:
    """Log lines written inside carry the request's ids, even once ``request_context``
    has let go: an error an early answer (``purchases_first``) lets through is logged by
    Litestar's exception handling outside the middlewares."""
    token = REQUEST.set(_observed(scope).request)
    try:
        yield
    finally:
        REQUEST.reset(token)


async def refusal_noted(exception: Exception, scope: Scope) -> None:
    """Remember which error answered the request (a purchase refusal's kind).

    ``async``, as ``response_observed``: Litestar runs a plain function hook in a thread.
    """
    if isinstance(exception, GoatError):  # a closed set: the core's error tree
        kind = re.sub(r"(?<!^)(?=[A-Z])", "_", type(exception).__name__).lower()
    elif isinstance(exception, HTTPException) and exception.status_code < 500:
        kind = "invalid_request"  # Litestar's own: a body or parameter it could not read
    else:
        kind = "error"
    _observed(scope).refusal = kind


async def response_observed(message: Message, scope: Scope) -> None:
    """Echo the request id; once the answer is complete, observe and log it.

    ``async`` although it never waits: Litestar runs a plain function hook in a thread of
    its own, which cost each request two thread hops (one per message it sends).
    """
    if scope["type"] != ScopeType.HTTP:
        return
    observed = _observed(scope)
    if message["type"] == "http.response.start":
        observed.status = message["status"]
        headers = list(message.get("headers", []))
        headers.append((REQUEST_ID_HEADER.encode(), observed.request.request_id.encode()))
        message["headers"] = headers
        return
    if message["type"] != "http.response.body" or message.get("more_body", False):
        return
    method: str = scope.get("method", "GET")
    route: str = scope.get("path_template") or "unmatched"
    status = observed.status
    elapsed = time.perf_counter() - observed.started if observed.started is not None else None
    metrics: HttpMetrics | None = scope["app"].state.get("metrics")
    if metrics is not None and route != "/metrics":
        if elapsed is not None:
            metrics.latency.labels(method, route, str(status)).observe(elapsed)
        if method == "POST" and route == "/requests":
            outcome = "bought" if status < 300 else (observed.refusal or f"http_{status}")
            metrics.purchases.labels(outcome).inc()
    access.info(
        "%s %s %d%s",
        method,
        scope.get("path", route),
        status,
        f" {elapsed * 1000:.1f}ms" if elapsed is not None else "",
        extra={
            "request_id": observed.request.request_id,
            "purchase_id": observed.request.purchase_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 3) if elapsed is not None else None,
        },
    )


class MetricsController(Controller):
    path = "/metrics"
    include_in_schema = False

    @get("/", sync_to_thread=True)  # the system's gauges read the database
    def metrics(self, state: State) -> Response[bytes]:
        """This process's metrics in Prometheus' text format."""
        metrics: HttpMetrics = state.metrics
        return Response(render(metrics.registry), media_type=CONTENT_TYPE)
