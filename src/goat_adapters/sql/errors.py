"""The translation of driver errors into goat's errors (``goat_core.errors``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import exc

from goat_core.errors import Busy, Conflict, Deadlock, GoatError, InvalidInput, Unavailable

__all__ = ["translate", "translate_psycopg", "translated"]

# SQLSTATEs after which the same transaction may simply be tried again
_DEADLOCK = "40P01"  # deadlock_detected
_RETRYABLE = {
    "55P03",  # lock_not_available: lock_timeout expired
    "40001",  # serialization_failure
    "57014",  # query_canceled (statement_timeout)
}
_SCHEMA_MISSING = {"42P01", "42703"}  # undefined table / column
_UNDEFINED_FUNCTION = "42883"  # or operator: only a missing function is a schema behind


def translate(error: exc.SQLAlchemyError) -> GoatError:
    """The goat error for a SQLAlchemy or driver error (see ``goat_core.errors``)."""
    original = getattr(error, "orig", None)
    sqlstate = getattr(original, "sqlstate", None)
    message = str(original or error).strip().splitlines()[0] if str(original or error) else ""
    if isinstance(error, exc.TimeoutError):
        return Busy(f"no database connection free in time: {error}")
    if sqlstate == _DEADLOCK:
        return Deadlock(f"the database is busy: {message}")
    if sqlstate in _RETRYABLE or "database is locked" in message or "table is locked" in message:
        return Busy(f"the database is busy: {message}")
    missing_function = sqlstate == _UNDEFINED_FUNCTION and message.startswith("function ")
    if sqlstate in _SCHEMA_MISSING or missing_function or "no such table" in message:
        return Unavailable(
            f"the database schema is not up to date (run goat db upgrade): {message}"
        )
    if isinstance(error, exc.IntegrityError):
        return Conflict(f"the database refused a change: {message}")
    if isinstance(error, exc.DataError):
        return InvalidInput("", f"a value does not fit the database: {message}")
    return Unavailable(f"the database cannot be used: {message}")


def translate_psycopg(error: psycopg.Error, sql: str, *, broken: bool = False) -> GoatError:
    """The goat error for an error psycopg raised running ``sql`` (``broken``: the
    connection is lost)."""
    return translate(
        exc.DBAPIError.instance(sql, {}, error, psycopg.Error, connection_invalidated=broken)
    )


@contextmanager
def translated() -> Iterator[None]:
    """Run a block, letting out only goat errors."""
    try:
        yield
    except exc.SQLAlchemyError as error:
        raise translate(error) from error
