"""``/requests``: our users' purchases, their receipts, and validations by an admin."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import File
from litestar.status_codes import HTTP_201_CREATED
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from goat_app.auth import Identity
from goat_app.compose import System
from goat_app.http.common import (
    AUTH_PROBLEMS,
    BEARER,
    MAX_COUNT,
    Count,
    ExchangeDep,
    IdentityDep,
    Page,
    SystemDep,
    client_ip,
    problems,
)
from goat_app.http.schemas import (
    MAX_BODY_BYTES,
    PaymentOut,
    PurchaseCreatedOut,
    PurchaseIn,
    PurchaseOut,
    PurchasePageOut,
    ReceiptOut,
    ReceiptPendingOut,
    ValidationIn,
    ValidationOut,
    purchase_out,
)
from goat_app.logs import note_purchase
from goat_core.errors import NotFound
from goat_core.model import PurchaseStatus, ValidationMessage
from goat_core.services import BuyBonds

__all__ = ["PurchasesController", "ReceiptFilesController", "buy_bonds", "purchases_first"]


async def buy_bonds(
    system: System, identity: Identity, data: PurchaseIn, request: Request[Any, Any, Any]
) -> PurchaseCreatedOut:
    """``POST /requests``: the purchase, on the event loop (a wallet purchase waits for
    its lot holding no thread)."""
    bought = await system.exchange.buy_bonds_async(
        BuyBonds(
            user_id=identity.user_id,
            fixture_id=data.fixture_id,
            result=data.result,
            quantity=data.quantity,
            wallet=data.wallet,
            return_url=system.return_url,
            client_ip=client_ip(request, system.settings.trusted_proxies),
            seller=data.seller,
            admin=identity.viewer.admin,
        )
    )
    note_purchase(str(bought.view.purchase.request_id))  # on this request's log lines
    payment = bought.payment
    return PurchaseCreatedOut(
        purchase_out(bought.view),
        PaymentOut(payment.url, payment.token) if payment else None,
    )


def purchases_first(app: ASGIApp) -> ASGIApp:
    """Middleware: ``POST /requests`` from a caller whose token is known already, with a
    well-formed body, is answered here, without Litestar's handler machinery.

    The handler's dependencies, arguments and response cost each purchase about 0.1 ms
    of CPU, as much as the purchase's own share of its lot (``benchmarks/README.md``,
    session 12). This answers exactly as ``PurchasesController.buy`` does (both call
    ``buy_bonds``): the same purchase, the same 201 document; a refusal raises the same
    error, which Litestar's exception handling turns into the same problem document,
    inside the same middlewares and hooks. Anything else (a token not verified yet, a
    body the strict decoding refuses or too large) goes on to the handler with its body
    as it came.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "POST" or scope.get("path_template") != "/requests":
            await app(scope, receive, send)
            return
        system: System = scope["app"].state.system
        identity = _known_caller(scope, system)
        if identity is None:
            await app(scope, receive, send)
            return
        body, messages = await _body(receive)
        data = _purchase_in(body) if body is not None else None
        if data is None:
            await app(scope, _replaying(messages, receive), send)
            return
        created = await buy_bonds(system, identity, data, Request(scope))
        content = _ENCODER.encode(created)
        await send(
            {
                "type": "http.response.start",
                "status": HTTP_201_CREATED,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content, "more_body": False})

    return middleware


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(PurchaseIn)


def _known_caller(scope: Scope, system: System) -> Identity | None:
    """The caller of a bearer token verified before (``provide_identity`` keeps them),
    read from the first ``Authorization`` header, as ``provide_identity`` reads it."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return system.tokens.get(token) if scheme.casefold() == "bearer" and token else None
    return None


async def _body(receive: Receive) -> tuple[bytes | None, list[ReceiveMessage]]:
    """The request's body (None past ``MAX_BODY_BYTES``, or if the client left), and the
    messages it came in."""
    messages: list[ReceiveMessage] = []
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None, messages
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_BODY_BYTES:
            return None, messages
        if not message.get("more_body", False):
            return b"".join(chunks), messages


def _purchase_in(body: bytes) -> PurchaseIn | None:
    """The body as ``PurchaseIn``, strictly (Litestar converts leniently: whatever this
    takes, it would take too); None for anything else."""
    try:
        return _DECODER.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _replaying(messages: list[ReceiveMessage], receive: Receive) -> Receive:
    """``receive`` that gives the messages already read first."""
    pending = list(messages)

    async def replay() -> ReceiveMessage:
        return pending.pop(0) if pending else await receive()

    return replay


class PurchasesController(Controller):
    path = "/requests"
    tags = ["requests"]  # noqa: RUF012  # Litestar reads it as a class attribute
    security = BEARER  # Litestar reads it as a class attribute

    @post(
        "/",
        status_code=201,
        responses=problems(*AUTH_PROBLEMS, 402, 403, 404, 409, 422),
        operation_id="buyBonds",
        summary="Buy bonds",
    )
    async def buy(
        self,
        system: SystemDep,
        identity: IdentityDep,
        data: JSONBody[PurchaseIn],
        request: Request[Any, Any, Any],
    ) -> PurchaseCreatedOut:
        """Buy bonds by wallet (debited now) or through Webpay (``payment`` says where to pay)."""
        return await buy_bonds(system, identity, data, request)

    @get(
        "/",
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 403),
        operation_id="listPurchases",
        summary="List the caller's purchases",
    )
    def list_requests(
        self,
        exchange: ExchangeDep,
        identity: IdentityDep,
        page: Page = 1,
        count: Count = MAX_COUNT,
        status: FromQuery[PurchaseStatus | None] = None,
        user_id: Annotated[str | None, QueryParameter(description="admins only: whose")] = None,
    ) -> PurchasePageOut:
        """The caller's purchases, newest first (an admin may name another user)."""
        found = exchange.purchases(identity.viewer, page, count, status=status, user_id=user_id)
        return PurchasePageOut([purchase_out(p) for p in found.items], found.total, page, count)

    @patch(
        "/validate",
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 403),
        operation_id="validatePurchase",
        summary="Apply a validation (admins)",
    )
    def validate(
        self, exchange: ExchangeDep, identity: IdentityDep, data: JSONBody[ValidationIn]
    ) -> ValidationOut:
        """Apply a ``fixtures/validation`` message, as if it came from the broker (admins)."""
        message = ValidationMessage(
            request_id=data.request_id,
            group_id=str(data.group_id),
            valid=data.valid,
            seller=data.seller,
        )
        return ValidationOut(exchange.apply_validation(message, identity.viewer))

    @get(
        "/{request_id:str}",
        sync_to_thread=True,
        responses=problems(*AUTH_PROBLEMS, 404),
        operation_id="getPurchase",
        summary="Get one purchase",
    )
    def get_request(
        self, exchange: ExchangeDep, identity: IdentityDep, request_id: FromPath[str]
    ) -> PurchaseOut:
        """One purchase, for its owner or an admin (404 for anyone else)."""
        return purchase_out(exchange.purchase(identity.viewer, request_id))

    @get(
        "/{request_id:str}/receipt",
        sync_to_thread=True,
        responses={
            202: ResponseSpec(data_container=ReceiptPendingOut, description="being made"),
            **problems(*AUTH_PROBLEMS, 404, 409),
        },
        operation_id="getReceipt",
        summary="Get a purchase's receipt",
    )
    def get_receipt(
        self, exchange: ExchangeDep, identity: IdentityDep, request_id: FromPath[str]
    ) -> Response[ReceiptOut | ReceiptPendingOut]:
        """The receipt's URL once made; 202 while it is being made; 409 if not accepted."""
        url = exchange.receipt(identity.viewer, request_id)
        if url is not None:
            return Response(ReceiptOut(url), status_code=200)
        return Response(
            ReceiptPendingOut("pending", "the receipt is being made; ask again shortly"),
            status_code=202,
        )


class ReceiptFilesController(Controller):
    """Receipts kept as files by this installation (``goat serve``), served by goat itself."""

    path = "/receipts"
    include_in_schema = False

    @get("/{name:str}", sync_to_thread=True)
    def download_receipt(
        self, system: SystemDep, name: FromPath[str], sig: FromQuery[str] = ""
    ) -> File:
        """An embedded receipt file, only with the signature in the URL the store handed out.

        That URL goes to the owner alone (``GET /requests/{id}/receipt``): every group on
        the broker knows our request ids, so the id alone must not open the document.
        """
        store = system.receipt_files
        if store is None or not name.endswith(".pdf"):
            raise NotFound(f"no receipt {name}")
        key = name.removesuffix(".pdf")
        path = store.path(key)
        if not store.signed(key, sig) or not path.is_file():
            raise NotFound(f"no receipt {name}")
        return File(path, media_type="application/pdf")
