"""One mapping from exceptions to RFC 9457 problem documents, for every error the API gives.

Domain errors keep their message (it is written for users); anything unexpected is a
500 whose detail says nothing of the internals, and is logged with its traceback here.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from goat_app.auth import NotAuthenticated
from goat_app.http.observe import in_request
from goat_app.http.schemas import MAX_BODY_BYTES, ProblemOut
from goat_core.errors import (
    Busy,
    Conflict,
    FixtureStarted,
    Forbidden,
    GoatError,
    InvalidInput,
    NotEnoughMoney,
    NotFound,
    PaymentError,
    Unavailable,
)

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "problem"]

log = logging.getLogger("goat.http")

PROBLEM_JSON = "application/problem+json"

# most specific first: the first class the error is an instance of wins
_DOMAIN: tuple[tuple[type[GoatError], int, str], ...] = (
    (NotAuthenticated, 401, "not-authenticated"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not-found"),
    (Busy, 409, "busy"),
    (Conflict, 409, "conflict"),
    (NotEnoughMoney, 402, "not-enough-money"),
    (FixtureStarted, 422, "fixture-started"),
    (InvalidInput, 422, "invalid-input"),
    (PaymentError, 502, "payment-provider-error"),
    (Unavailable, 503, "dependency-unavailable"),
)


def problem(
    status: int,
    detail: str,
    *,
    type_: str = "about:blank",
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ProblemOut]:
    """A problem document response."""
    body = ProblemOut(
        type=type_, title=HTTPStatus(status).phrase, status=status, detail=detail, field=field
    )
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def goat_error(request: Request[Any, Any, Any], error: GoatError) -> Response[ProblemOut]:
    found = next((entry for entry in _DOMAIN if isinstance(error, entry[0])), None)
    if found is None:
        return internal_error(request, error)
    _, status, slug = found
    headers = None
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="goat"'}
    elif isinstance(error, Busy | Unavailable):
        headers = {"Retry-After": "1"}
    field = error.field or None if isinstance(error, InvalidInput) else None
    detail = str(error)
    if status >= 500:
        # hosts, ports and driver messages are for the log, not for the caller
        with in_request(request.scope):
            log.warning("%s %s: %s", request.method, request.url.path, error)
        detail = _SERVER_SIDE.get(status, HTTPStatus(status).phrase)
    return problem(status, detail, type_=f"urn:goat:problem:{slug}", field=field, headers=headers)


_SERVER_SIDE = {
    502: "the payment provider did not answer as expected; try again",
    503: "a service goat depends on is unavailable; retry later",
}


def http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[ProblemOut]:
    status = error.status_code
    field = None
    detail = error.detail or HTTPStatus(status).phrase
    if isinstance(error, ValidationException):
        problems = [e for e in (error.extra or []) if isinstance(e, dict)]
        if problems:
            key = str(problems[0].get("key") or "")
            message = str(problems[0].get("message") or "is invalid")
            if key == "data" and message == "'data'":  # Litestar's KeyError: no body at all
                message = "a JSON body is required"
            field = _field_of(key, message)
            detail = f"{field}: {message}" if field else message
    elif status == 413:
        detail = f"the body may be at most {MAX_BODY_BYTES} bytes"
    headers = {k: v for k, v in (error.headers or {}).items() if k.lower() == "allow"}
    if status >= 500:
        with in_request(request.scope):
            log.error("%s %s: %s", request.method, request.url.path, error)
        detail = HTTPStatus(status).phrase
    return problem(status, detail, field=field, headers=headers or None)


def _field_of(key: str, message: str) -> str | None:
    """The body field a msgspec message is about, when Litestar only says "data".

    A message about the body as a whole (not an object, or absent) names ``body``:
    ``data`` is the handler's argument, nothing a caller sent.
    """
    if key not in ("data", "body", ""):
        return key
    missing = re.search(r"missing required field `([^`]+)`", message)
    if missing:
        return missing.group(1)
    at = re.search(r"at `\$\.([^`]+)`", message)
    if at:
        return at.group(1)
    return "body" if key else None


def too_deep(request: Request[Any, Any, Any], error: RecursionError) -> Response[ProblemOut]:
    """A body nested deeper than the JSON decoder follows is malformed, not our failure."""
    if "deserializing" not in str(error):  # msgspec's words; any other recursion is a bug
        return internal_error(request, error)
    return problem(400, "JSON is malformed: nested too deeply", field="body")


def internal_error(request: Request[Any, Any, Any], error: Exception) -> Response[ProblemOut]:
    with in_request(request.scope):
        log.error("%s %s failed", request.method, request.url.path, exc_info=error)
    return problem(500, "Something went wrong on our side; it has been logged.")


EXCEPTION_HANDLERS: Any = {
    GoatError: goat_error,
    HTTPException: http_error,
    RecursionError: too_deep,
    Exception: internal_error,
}
