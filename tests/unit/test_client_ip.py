"""Whose address a request comes from: the peer, or X-Forwarded-For through trusted proxies."""

from __future__ import annotations

from typing import Any, cast

from litestar import Request
from litestar.types import HTTPScope

from goat_app.http.common import client_ip

PROXY = "10.0.0.0/8"


def _request(peer: str, *forwarded: str) -> Request[Any, Any, Any]:
    headers = [(b"x-forwarded-for", line.encode()) for line in forwarded]
    # only what client_ip reads of an ASGI scope
    scope = cast("HTTPScope", {"type": "http", "client": (peer, 4321), "headers": headers})
    return Request(scope)


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    """A header from a peer that is not a trusted proxy is ignored."""
    assert client_ip(_request("8.8.8.8", "1.1.1.1"), [PROXY]) == "8.8.8.8"


def test_the_nearest_untrusted_hop_is_the_client() -> None:
    """Read right to left through trusted proxies, the first other address is the client."""
    assert client_ip(_request("10.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.2"), [PROXY]) == "1.2.3.4"


def test_a_proxy_s_own_header_line_is_read_after_the_client_s() -> None:
    """A client's X-Forwarded-For line cannot hide the line the trusted proxy added after it."""
    request = _request("10.0.0.1", "6.6.6.6", "1.2.3.4")

    assert client_ip(request, [PROXY]) == "1.2.3.4"
