"""What every controller shares: its dependencies (the system, the exchange, the caller),
the paging parameters, and the OpenAPI entries of the problems an endpoint may answer."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Annotated, Any

from litestar import Request
from litestar.concurrency import sync_to_thread
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import QueryParameter, SkipValidation

from goat_app.auth import Identity, NotAuthenticated
from goat_app.compose import System
from goat_app.http.errors import PROBLEM_JSON
from goat_app.http.schemas import ProblemOut
from goat_core.services import Exchange

__all__ = [
    "AUTH_PROBLEMS",
    "BEARER",
    "MAX_COUNT",
    "Count",
    "ExchangeDep",
    "IdentityDep",
    "Page",
    "SystemDep",
    "client_ip",
    "problems",
    "provide_exchange",
    "provide_identity",
    "provide_system",
]

# live objects, not data: Litestar must hand them over as they are, not validate them
SystemDep = NamedDependency[SkipValidation[System]]
ExchangeDep = NamedDependency[SkipValidation[Exchange]]
IdentityDep = NamedDependency[Identity]

MAX_COUNT = 25
BEARER: list[dict[str, list[str]]] = [{"BearerToken": []}]

Page = Annotated[int, QueryParameter(ge=1, le=1_000_000, description="page number, from 1")]
Count = Annotated[int, QueryParameter(ge=1, le=MAX_COUNT, description="items per page, at most 25")]

_MEANING = {
    400: "A parameter or the body is malformed; `field` names it",
    401: "No bearer token, or one this API does not accept",
    402: "The wallet cannot pay",
    403: "The caller lacks the goat:admin permission",
    404: "Unknown, or not the caller's",
    409: "The state does not allow it (not enough bonds, not accepted, payment not finished, busy)",
    422: "Well formed but not acceptable; `field` names the input when there is one",
    502: "The payment provider failed",
    503: "A dependency cannot be reached; retry later",
}

_EXAMPLES: dict[int, dict[str, object]] = {
    400: {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": "quantity: Expected `int >= 1`",
        "field": "quantity",
    },
    401: {
        "type": "urn:goat:problem:not-authenticated",
        "title": "Unauthorized",
        "status": 401,
        "detail": "the bearer token has expired",
    },
    402: {
        "type": "urn:goat:problem:not-enough-money",
        "title": "Payment Required",
        "status": 402,
        "detail": "the wallet cannot pay 2000 CLP",
    },
    403: {
        "type": "urn:goat:problem:forbidden",
        "title": "Forbidden",
        "status": 403,
        "detail": "this needs the goat:admin permission",
    },
    404: {
        "type": "urn:goat:problem:not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "no fixture 1035037",
    },
    409: {
        "type": "urn:goat:problem:conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "fixture 1035037 has fewer than 5 bonds left",
    },
    422: {
        "type": "urn:goat:problem:fixture-started",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": "fixture 1035037 has started: its bonds are no longer sold",
    },
    502: {
        "type": "urn:goat:problem:payment-provider-error",
        "title": "Bad Gateway",
        "status": 502,
        "detail": "the payment provider did not answer; try again",
    },
    503: {
        "type": "urn:goat:problem:dependency-unavailable",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "a service goat depends on cannot be reached; retry shortly",
    },
}
"""What each problem looks like (the examples of the OpenAPI document)."""

AUTH_PROBLEMS = (400, 401)
"""What any endpoint that reads a bearer token may answer."""


def problems(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the RFC 9457 problem documents an endpoint may answer."""
    return {
        code: ResponseSpec(
            data_container=ProblemOut,
            media_type=PROBLEM_JSON,
            description=_MEANING[code],
            generate_examples=False,  # Litestar's are random strings; ours is a real one
            examples=[Example(summary=_MEANING[code], value=_EXAMPLES[code])],
        )
        for code in codes
    }


def provide_system(state: State) -> System:
    """The system the app was created over."""
    system: System = state.system
    return system


# The dependencies form one chain, system -> exchange -> identity: Litestar resolves the
# dependencies of one level together in an anyio task group, which cost a purchase ~8 %
# of its CPU when system and exchange were both first.


def provide_exchange(system: SystemDep) -> Exchange:
    """The core's one door."""
    return system.exchange


async def provide_identity(
    request: Request[Any, Any, Any], system: SystemDep, exchange: ExchangeDep
) -> Identity:
    """The verified caller, registered as a user on first sight (from the token's claims)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.casefold() != "bearer" or not token:
        raise NotAuthenticated("send Authorization: Bearer <token>")
    identity = system.tokens.get(token)
    if identity is None:  # verifying may fetch the issuer's keys, and registering writes
        identity = await sync_to_thread(_verify_and_register, system, exchange, token)
    return identity


def _verify_and_register(system: System, exchange: Exchange, token: str) -> Identity:
    identity = system.verifier.verify(token)
    exchange.register(identity.user_id, identity.email, identity.name)
    system.tokens.put(token, identity)
    return identity


def client_ip(request: Request[Any, Any, Any], trusted_proxies: Sequence[str]) -> str | None:
    """The address the caller's request came from.

    The connection's peer, unless that peer is one of ``GOAT_TRUSTED_PROXIES``: then the
    nearest address of ``X-Forwarded-For`` that is not a trusted proxy (read from the
    right, since a client may write anything on the left). A header from anyone else is
    ignored: it would let a buyer claim any location.
    """
    peer = request.client.host if request.client else None
    if not trusted_proxies:
        return peer
    networks = [ipaddress.ip_network(network) for network in trusted_proxies]

    def trusted(address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(ip in network for network in networks)

    if not trusted(peer):
        return peer
    # every line of the header, in order: a proxy may add its own line after the client's
    lines = request.headers.getall("x-forwarded-for", [])
    hops = [hop.strip() for line in lines for hop in line.split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a malformed hop: stop believing the chain
    return peer
