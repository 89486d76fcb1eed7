"""ASGI middleware of the API: what every request gets before its handler runs."""

from __future__ import annotations

from litestar.types import ASGIApp, Receive, Scope, Send

__all__ = ["blank_query_values_are_absent"]


def blank_query_values_are_absent(app: ASGIApp) -> ASGIApp:
    """Drop ``name=`` (and bare ``name``) from the query string before parameters are read.

    A frontend's search form sends every filter, empty or not
    (``/fixtures?home=&away=&date=``): an empty value means "no filter", the parameter's
    default, for every parameter alike, instead of a 400 for ``date`` and a filter on ""
    for ``home``.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"")
        if query:
            parts = query.split(b"&")
            kept = [p for p in parts if p.partition(b"=")[2]]
            if len(kept) != len(parts):
                scope["query_string"] = b"&".join(kept)
        await app(scope, receive, send)

    return middleware
