"""The endpoints of CONTRACT §4. Handlers are sync (the core is): Litestar runs them in threads."""

from __future__ import annotations

import contextlib
import datetime as dt
import html
from typing import Annotated, Any

from litestar import MediaType, Request, Response, get, patch, post, put
from litestar.concurrency import sync_to_thread
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, Parameter, QueryParameter
from litestar.response import File, Redirect

from goat_app.auth import Forbidden, Identity, NotAuthenticated
from goat_app.compose import System
from goat_app.http.cache import TtlCache
from goat_app.http.errors import PROBLEM_JSON
from goat_app.http.schemas import (
    CommitOut,
    DeadLetterPageOut,
    FixtureOut,
    FixturePageOut,
    HealthOut,
    HeartbeatOut,
    JobOut,
    PaymentCommitIn,
    PaymentCreateIn,
    PaymentOut,
    ProblemOut,
    PurchaseCreatedOut,
    PurchaseIn,
    PurchaseOut,
    PurchasePageOut,
    ReadyOut,
    ReceiptOut,
    ReceiptPendingOut,
    RecommendationOut,
    RecommendationsOut,
    TopUpIn,
    UserOut,
    ValidationIn,
    ValidationOut,
    WalletOut,
    dead_letter_out,
    fixture_out,
    purchase_out,
    user_out,
)
from goat_app.receipts import FileReceiptStore
from goat_core.errors import (
    GoatError,
    InvalidInput,
    NotAccepted,
    NotFound,
    PaymentError,
    UnknownFixture,
    UnknownPurchase,
)
from goat_core.model import Outcome, PaymentStatus, Purchase, PurchaseStatus, ValidationMessage
from goat_core.ports import FixtureQuery
from goat_core.services import JOB_RECEIPT, JOB_RECOMMEND, BuyBonds, PaymentReturn

SystemDep = NamedDependency[System]
IdentityDep = NamedDependency[Identity]

MAX_COUNT = 25
MAX_WALLET = 10**15
"""The most a wallet may hold after a top-up, in CLP (payouts may add to it)."""
BEARER: list[dict[str, list[str]]] = [{"BearerToken": []}]

Page = Annotated[int, QueryParameter(ge=1, le=1_000_000, description="page number, from 1")]
Count = Annotated[int, QueryParameter(ge=1, le=MAX_COUNT, description="items per page, at most 25")]


_MEANING = {
    400: "A parameter or the body is malformed; `field` names it",
    401: "No bearer token, or one this API does not accept",
    402: "The wallet cannot pay",
    403: "The caller lacks the goat:admin permission",
    404: "Unknown, or not the caller's",
    409: "The state does not allow it (not enough bonds, not accepted, busy)",
    422: "Well formed but not acceptable; `field` names the input when there is one",
    502: "The payment provider failed",
    503: "A dependency cannot be reached; retry later",
}


def problems(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the RFC 9457 problem documents an endpoint may answer."""
    return {
        code: ResponseSpec(
            data_container=ProblemOut, media_type=PROBLEM_JSON, description=_MEANING[code]
        )
        for code in codes
    }


AUTH_PROBLEMS = (400, 401)


def provide_system(state: State) -> System:
    """The system the app was created over."""
    system: System = state.system
    return system


async def provide_identity(request: Request[Any, Any, Any], system: SystemDep) -> Identity:
    """The verified caller, created as a user on first sight (from the token's claims)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.casefold() != "bearer" or not token:
        raise NotAuthenticated("send Authorization: Bearer <token>")
    identity = system.tokens.get(token)
    if identity is None:  # verifying may fetch the issuer's keys, and registering writes
        identity = await sync_to_thread(_verify_and_register, system, token)
    return identity


def _verify_and_register(system: System, token: str) -> Identity:
    identity = system.verifier.verify(token)
    with system.uow() as uow:
        uow.users.get_or_create(identity.user_id, identity.email, identity.name)
        uow.commit()
    system.tokens.put(token, identity)
    return identity


def require_admin(identity: Identity) -> None:
    """Raise ``Forbidden`` unless the caller carries goat:admin."""
    if not identity.admin:
        raise Forbidden("this needs the goat:admin permission")


# -- fixtures ------------------------------------------------------------------------------


@get("/fixtures", sync_to_thread=True, tags=["fixtures"], responses=problems(400))
def list_fixtures(
    system: SystemDep,
    state: State,
    page: Page = 1,
    count: Count = MAX_COUNT,
    home: Annotated[str | None, QueryParameter(description="home team name contains")] = None,
    away: Annotated[str | None, QueryParameter(description="away team name contains")] = None,
    date: Annotated[dt.date | None, QueryParameter(description="kick-off day, YYYY-MM-DD")] = None,
) -> FixturePageOut:
    """Fixtures by kick-off; with any filter, only fixtures not yet started.

    Pages may be up to ``GOAT_FIXTURES_CACHE_MS`` old (one second by default).
    """

    def load() -> FixturePageOut:
        query = FixtureQuery(
            now=system.exchange.clock.now(),
            page=page,
            count=count,
            home=home or None,
            away=away or None,
            date=date,
        )
        with system.uow() as uow:
            fixtures, total = uow.fixtures.page(query)
        return FixturePageOut([fixture_out(f) for f in fixtures], total, page, count)

    pages: TtlCache[FixturePageOut] = state.fixture_pages
    return pages.get((page, count, home, away, date), load)


# the path takes any text so that ``/fixtures/abc`` is a 400 naming the parameter, not a
# "no such route" 404; the annotation converts and bounds it to what the database holds
@get(
    "/fixtures/{fixture_id:str}",
    sync_to_thread=True,
    tags=["fixtures"],
    responses=problems(400, 404),
)
def get_fixture(
    system: SystemDep,
    fixture_id: Annotated[int, Parameter(ge=-(2**63), le=2**63 - 1, description="fixture id")],
) -> FixtureOut:
    """One fixture with its availability."""
    with system.uow() as uow:
        fixture = uow.fixtures.get(fixture_id)
    if fixture is None:
        raise UnknownFixture(fixture_id)
    return fixture_out(fixture)


# -- purchases -----------------------------------------------------------------------------


def _outcome(system: System, fixture_id: int, result: str) -> Outcome:
    text = result.strip()
    for outcome in Outcome:
        if text.casefold() == outcome.value:
            return outcome
    if text == "---":
        return Outcome.DRAW
    with system.uow() as uow:
        fixture = uow.fixtures.get(fixture_id)
    if fixture is None:
        raise UnknownFixture(fixture_id)
    found = fixture.outcome_of(text)
    if found is None:
        raise InvalidInput("result", "must be home, draw, away, a team of the fixture or ---")
    return found


@post(
    "/requests",
    status_code=201,
    sync_to_thread=True,
    tags=["requests"],
    security=BEARER,
    responses=problems(*AUTH_PROBLEMS, 402, 404, 409, 422),
)
def buy(
    request: Request[Any, Any, Any],
    system: SystemDep,
    identity: IdentityDep,
    data: JSONBody[PurchaseIn],
) -> PurchaseCreatedOut:
    """Buy bonds by wallet (debited now) or through Webpay (``payment`` says where to pay)."""
    bought = system.exchange.buy_bonds(
        BuyBonds(
            user_id=identity.user_id,
            fixture_id=data.fixture_id,
            result=_outcome(system, data.fixture_id, data.result),
            quantity=data.quantity,
            wallet=data.wallet,
            return_url=system.return_url,
            ip=request.client.host if request.client else None,
        )
    )
    payment = bought.payment
    return PurchaseCreatedOut(
        purchase_out(bought.purchase),
        PaymentOut(payment.url, payment.token) if payment else None,
    )


@get(
    "/requests",
    sync_to_thread=True,
    tags=["requests"],
    security=BEARER,
    responses=problems(*AUTH_PROBLEMS, 403),
)
def list_requests(
    system: SystemDep,
    identity: IdentityDep,
    page: Page = 1,
    count: Count = MAX_COUNT,
    status: FromQuery[PurchaseStatus | None] = None,
    user_id: Annotated[str | None, QueryParameter(description="admins only: whose")] = None,
) -> PurchasePageOut:
    """The caller's purchases, newest first (an admin may name another user)."""
    whose = identity.user_id
    if user_id is not None and user_id != identity.user_id:
        require_admin(identity)
        whose = user_id
    with system.uow() as uow:
        found, total = uow.purchases.page_for_user(whose, status, page, count)
    return PurchasePageOut([purchase_out(p) for p in found], total, page, count)


def _visible_purchase(system: System, identity: Identity, request_id: str) -> Purchase:
    with system.uow() as uow:
        purchase = uow.purchases.get(request_id)
    # another user's purchase is "unknown": its existence is not leaked
    if purchase is None or not (identity.admin or purchase.user_id == identity.user_id):
        raise UnknownPurchase(request_id)
    return purchase


@patch(
    "/requests/validate",
    sync_to_thread=True,
    tags=["requests"],
    security=BEARER,
    responses=problems(*AUTH_PROBLEMS, 403),
)
def validate(
    system: SystemDep, identity: IdentityDep, data: JSONBody[ValidationIn]
) -> ValidationOut:
    """Apply a ``fixtures/validation`` message, as if it came from the broker (admins)."""
    require_admin(identity)
    message = ValidationMessage(
        request_id=data.request_id,
        group_id=str(data.group_id),
        valid=data.valid,
        seller=data.seller,
    )
    changed = system.exchange.apply_validation(message)
    return ValidationOut(changed)


@get(
    "/requests/{request_id:str}",
    sync_to_thread=True,
    tags=["requests"],
    security=BEARER,
    responses=problems(*AUTH_PROBLEMS, 404),
)
def get_request(system: SystemDep, identity: IdentityDep, request_id: FromPath[str]) -> PurchaseOut:
    """One purchase, for its owner or an admin (404 for anyone else)."""
    return purchase_out(_visible_purchase(system, identity, request_id))


@get(
    "/requests/{request_id:str}/receipt",
    sync_to_thread=True,
    tags=["requests"],
    security=BEARER,
    responses={
        202: ResponseSpec(data_container=ReceiptPendingOut, description="being made"),
        **problems(*AUTH_PROBLEMS, 404, 409),
    },
)
def get_receipt(
    system: SystemDep, identity: IdentityDep, request_id: FromPath[str]
) -> Response[ReceiptOut | ReceiptPendingOut]:
    """The receipt's URL once made; 202 while it is being made; 409 if not accepted."""
    purchase = _visible_purchase(system, identity, request_id)
    if purchase.user_id != identity.user_id:
        raise UnknownPurchase(request_id)
    if purchase.status not in (PurchaseStatus.ACCEPTED, PurchaseStatus.WON, PurchaseStatus.LOST):
        raise NotAccepted(f"purchase {request_id} is {purchase.status}: it has no receipt")
    url = system.receipts.url(request_id)
    if url is not None:
        return Response(ReceiptOut(url), status_code=200)
    # jobs are safe to run twice: asking again makes sure one is on its way
    # if the jobs service is down the 202 stays true: the next ask queues again
    with contextlib.suppress(GoatError):
        system.jobs.enqueue(JOB_RECEIPT, request_id=request_id)
    return Response(
        ReceiptPendingOut("pending", "the receipt is being made; ask again shortly"),
        status_code=202,
    )


@get("/receipts/{name:str}", sync_to_thread=True, include_in_schema=False)
def download_receipt(system: SystemDep, name: FromPath[str], sig: FromQuery[str] = "") -> File:
    """An embedded receipt file (``goat serve`` keeps receipts under the data dir).

    Only with the signature in the URL the store handed out (to the owner, through
    ``GET /requests/{id}/receipt``): every group on the broker knows our request ids, so
    the id alone must not open the document.
    """
    store = system.receipts
    if not isinstance(store, FileReceiptStore) or not name.endswith(".pdf"):
        raise NotFound(f"no receipt {name}")
    key = name.removesuffix(".pdf")
    path = store.path(key)
    if not store.signed(key, sig) or not path.is_file():
        raise NotFound(f"no receipt {name}")
    return File(path, media_type="application/pdf")


# -- users ---------------------------------------------------------------------------------


@get(
    "/users/me",
    sync_to_thread=True,
    tags=["users"],
    security=BEARER,
    responses=problems(*AUTH_PROBLEMS),
)
def me(system: SystemDep, identity: IdentityDep) -> UserOut:
    """The caller's profile (created from the token's claims on first use)."""
    with system.uow() as uow:
        user = uow.users.get_or_create(identity.user_id, identity.email, identity.name)
        uow.commit()
    return user_out(user, identity.admin)


@get(
    "/users/wallet",
    sync_to_thread=True,
    tags=["users"],
    security=BEARER,
    responses=problems(*AUTH_PROBLEMS),
)
def wallet(system: SystemDep, identity: IdentityDep) -> WalletOut:
    """The caller's balance in CLP."""
    with system.uow() as uow:
        user = uow.users.get(identity.user_id)
    return WalletOut(user.wallet if user else 0)


@put(
    "/users/wallet",
    sync_to_thread=True,
    tags=["users"],
    security=BEARER,
    responses=problems(*AUTH_PROBLEMS, 422),
)
def top_up(system: SystemDep, identity: IdentityDep, data: JSONBody[TopUpIn]) -> WalletOut:
    """Add ``amount`` CLP to the caller's wallet; answers the new balance."""
    with system.uow() as uow:
        user = uow.users.get(identity.user_id)
    # far below what a BIGINT holds: racing top-ups cannot carry a balance past it
    if (user.wallet if user else 0) + data.amount > MAX_WALLET:
        raise InvalidInput("amount", f"a wallet holds at most {MAX_WALLET} CLP")
    return WalletOut(system.exchange.top_up(identity.user_id, data.amount))


# -- webpay --------------------------------------------------------------------------------


@post(
    "/webpay/create",
    status_code=200,
    sync_to_thread=True,
    tags=["webpay"],
    security=BEARER,
    responses=problems(*AUTH_PROBLEMS, 404, 422),
)
def webpay_create(
    system: SystemDep, identity: IdentityDep, data: JSONBody[PaymentCreateIn]
) -> PaymentOut:
    """Where to pay one of the caller's purchases that awaits payment."""
    start = system.exchange.payment_for(identity.user_id, data.request_id)
    return PaymentOut(start.url, start.token)


def _payment_return(
    token_ws: str | None,
    tbk_token: str | None,
    buy_order: str | None,
) -> PaymentReturn:
    if tbk_token:  # cancelled on the payment page (or its form failed): never paid
        return PaymentReturn(token=tbk_token, buy_order=buy_order, cancelled=True)
    if token_ws:
        return PaymentReturn(token=token_ws)
    if buy_order:  # timed out: Webpay sends only the buy order and the session
        return PaymentReturn(buy_order=buy_order, cancelled=True)
    raise InvalidInput(
        "token_ws", "send token_ws, TBK_TOKEN or TBK_ORDEN_COMPRA as Webpay sent them"
    )


def _status(purchase: Purchase) -> str:
    if purchase.payment_status is not None:
        return purchase.payment_status.value
    if purchase.status == PurchaseStatus.REJECTED:
        return PaymentStatus.REJECTED.value
    return purchase.status.value


@post(
    "/webpay/commit",
    status_code=200,
    sync_to_thread=True,
    tags=["webpay"],
    security=BEARER,
    responses=problems(*AUTH_PROBLEMS, 404, 422, 502),
)
def webpay_commit(
    system: SystemDep, identity: IdentityDep, data: JSONBody[PaymentCommitIn]
) -> CommitOut:
    """Settle a payment with what Webpay sent to the return URL; repeating answers the same."""
    back = _payment_return(data.token_ws, data.TBK_TOKEN, data.TBK_ORDEN_COMPRA)
    purchase = system.exchange.commit_payment(identity.user_id, back)
    return CommitOut(_status(purchase), purchase_out(purchase))


_RETURN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>goat · payment {status}</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">
<h1>Payment {status}</h1>
<p>Purchase <code>{request_id}</code>: {quantity} bond(s) on fixture {fixture_id}.</p>
<p>Purchase status: <strong>{purchase_status}</strong>.</p>
</body></html>
"""


@get(
    "/webpay/return",
    sync_to_thread=True,
    tags=["webpay"],
    media_type=MediaType.HTML,
    responses=problems(404, 422, 502),
)
def webpay_return(
    system: SystemDep,
    token_ws: FromQuery[str | None] = None,
    tbk_token: Annotated[str | None, QueryParameter(name="TBK_TOKEN")] = None,
    buy_order: Annotated[str | None, QueryParameter(name="TBK_ORDEN_COMPRA")] = None,
    session_id: Annotated[str | None, QueryParameter(name="TBK_ID_SESION")] = None,
) -> str:
    """Webpay's return URL when no frontend is configured: commits and shows the outcome."""
    back = _payment_return(token_ws, tbk_token, buy_order)
    # the browser brings no bearer token: the Webpay token (or buy order) is the capability
    with system.uow() as uow:
        found = uow.purchases.find_by_payment(back.token, back.buy_order)
    if found is None or found.user_id is None:
        raise UnknownPurchase(back.token or back.buy_order or "")
    purchase = system.exchange.commit_payment(found.user_id, back)
    return _RETURN_PAGE.format(
        status=html.escape(_status(purchase)),
        request_id=html.escape(purchase.request_id),
        quantity=purchase.quantity,
        fixture_id=purchase.fixture_id,
        purchase_status=html.escape(purchase.status.value),
    )


_SANDBOX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Webpay sandbox</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">
<h1>Webpay sandbox</h1>
<p>Buy order <code>{buy_order}</code>: <strong>{amount} CLP</strong>.</p>
<p>No money moves here: choose what the payer does.</p>
<form method="post" action="/webpay/sandbox/{token}/approve"><button>Approve</button></form>
<form method="post" action="/webpay/sandbox/{token}/reject"><button>Reject</button></form>
<form method="post" action="/webpay/sandbox/{token}/cancel"><button>Cancel</button></form>
</body></html>
"""


def _sandbox(system: System) -> Any:
    if system.sandbox is None:
        raise NotFound("the Webpay sandbox is not in use")
    return system.sandbox


@get(
    "/webpay/sandbox/{token:str}",
    sync_to_thread=False,
    media_type=MediaType.HTML,
    include_in_schema=False,
)
def sandbox_page(system: SystemDep, token: FromPath[str]) -> str:
    """The embedded sandbox's payment page with its three buttons."""
    transaction = _sandbox(system).transaction(token)
    if transaction is None:
        raise NotFound(f"the sandbox knows no transaction {token}")
    return _SANDBOX_PAGE.format(
        buy_order=html.escape(transaction.buy_order),
        amount=transaction.amount,
        token=html.escape(token),
    )


@post(
    "/webpay/sandbox/{token:str}/{decision:str}",
    sync_to_thread=False,
    include_in_schema=False,
)
def sandbox_decide(system: SystemDep, token: FromPath[str], decision: FromPath[str]) -> Redirect:
    """Record the button pressed and send the browser to the return URL as Webpay would."""
    try:
        target = _sandbox(system).decide(token, decision)
    except PaymentError as error:
        raise NotFound(str(error)) from None
    return Redirect(target, status_code=303)


# -- recommendations and jobs ---------------------------------------------------------------


@post(
    "/recommendations",
    status_code=202,
    sync_to_thread=False,
    tags=["recommendations"],
    security=BEARER,
    responses=problems(*AUTH_PROBLEMS, 503),
)
def recommend(system: SystemDep, identity: IdentityDep) -> JobOut:
    """Queue a recomputation of the caller's recommendations."""
    return JobOut(system.jobs.enqueue(JOB_RECOMMEND, user_id=identity.user_id))


@get(
    "/recommendations",
    sync_to_thread=True,
    tags=["recommendations"],
    security=BEARER,
    responses=problems(*AUTH_PROBLEMS),
)
def recommendations(system: SystemDep, identity: IdentityDep) -> RecommendationsOut:
    """The caller's last computed recommendations, best first."""
    with system.uow() as uow:
        stored = uow.recommendations.get(identity.user_id)
        items = []
        for item in stored.items if stored else ():
            fixture = uow.fixtures.get(item.fixture_id)
            if fixture is not None:
                items.append(RecommendationOut(fixture_out(fixture), float(item.pond)))
    return RecommendationsOut(stored.updated_at if stored else None, items)


@get("/workers/heartbeat", sync_to_thread=False, tags=["operations"])
def heartbeat(system: SystemDep) -> HeartbeatOut:
    """Whether the jobs service answers."""
    return HeartbeatOut(system.jobs.available)


@get("/health", sync_to_thread=False, tags=["operations"])
def health() -> HealthOut:
    """Liveness: the process answers."""
    return HealthOut("ok")


@get(
    "/ready",
    sync_to_thread=True,
    tags=["operations"],
    responses={503: ResponseSpec(data_container=ReadyOut, description="not ready")},
)
def ready(system: SystemDep) -> Response[ReadyOut]:
    """Readiness: each dependency (database, broker, jobs) and its state."""
    try:
        with system.uow() as uow:
            backlog = uow.outbox.backlog()
        database = f"up ({system.database_kind})"
    except Exception as error:  # any failure means not ready; the reason is shown
        backlog = None
        database = f"down: {type(error).__name__}"
    broker = system.broker_state()
    if backlog is not None:
        broker = f"{broker}; outbox backlog {backlog}"
    jobs = "up (in-process)" if system.jobs.available else "down"
    is_ready = database.startswith("up") and system.jobs.available
    body = ReadyOut(is_ready, {"database": database, "broker": broker, "jobs": jobs})
    return Response(body, status_code=200 if is_ready else 503)


# -- admin ---------------------------------------------------------------------------------


@get(
    "/admin/dead-letters",
    sync_to_thread=True,
    tags=["admin"],
    security=BEARER,
    responses=problems(*AUTH_PROBLEMS, 403),
)
def dead_letters(
    system: SystemDep, identity: IdentityDep, page: Page = 1, count: Count = MAX_COUNT
) -> DeadLetterPageOut:
    """Broker messages that could not be applied, newest first (admins)."""
    require_admin(identity)
    with system.uow() as uow:
        found, total = uow.dead_letters.page(page, count)
    return DeadLetterPageOut([dead_letter_out(d) for d in found], total, page, count)


HANDLERS = [
    list_fixtures,
    get_fixture,
    buy,
    list_requests,
    validate,
    get_request,
    get_receipt,
    download_receipt,
    me,
    wallet,
    top_up,
    webpay_create,
    webpay_commit,
    webpay_return,
    sandbox_page,
    sandbox_decide,
    recommend,
    recommendations,
    heartbeat,
    health,
    ready,
    dead_letters,
]
