"""``/webpay``: paying a purchase, the payer's way back, and the embedded sandbox's pages.

``SandboxController`` is mounted only when the embedded sandbox is the payment gateway.
"""

from __future__ import annotations

import html
from typing import Annotated

from litestar import Controller, MediaType, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Redirect

from goat_adapters.webpay import SandboxDecision, SandboxPaymentGateway
from goat_app.http.common import (
    AUTH_PROBLEMS,
    BEARER,
    ExchangeDep,
    IdentityDep,
    SystemDep,
    problems,
)
from goat_app.http.schemas import (
    CommitOut,
    PaymentCommitIn,
    PaymentCreateIn,
    PaymentOut,
    purchase_out,
)
from goat_core.errors import InvalidInput, NotFound, PaymentError
from goat_core.services import PaymentReturn, payment_answer

__all__ = ["SandboxController", "WebpayController", "payment_return"]


def payment_return(
    token_ws: str | None, tbk_token: str | None, buy_order: str | None
) -> PaymentReturn:
    """Read what Webpay sends to the return URL, in any of its three shapes."""
    if tbk_token:  # cancelled on the payment page (or its form failed): never paid
        return PaymentReturn(token=tbk_token, buy_order=buy_order, cancelled=True)
    if token_ws:
        return PaymentReturn(token=token_ws)
    if buy_order:  # timed out: Webpay sends only the buy order and the session
        return PaymentReturn(buy_order=buy_order, cancelled=True)
    raise InvalidInput(
        "token_ws", "send token_ws, TBK_TOKEN or TBK_ORDEN_COMPRA as Webpay sent them"
    )


_RETURN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>goat · payment {status}</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">
<h1>Payment {status}</h1>
<p>Purchase <code>{request_id}</code>: {quantity} bond(s) on fixture {fixture_id}.</p>
<p>Purchase status: <strong>{purchase_status}</strong>.</p>
</body></html>
"""


class WebpayController(Controller):
    path = "/webpay"
    tags = ["webpay"]  # noqa: RUF012  # Litestar reads it as a class attribute

    @post(
        "/create",
        status_code=200,
        sync_to_thread=True,
        security=BEARER,
        responses=problems(*AUTH_PROBLEMS, 404, 422),
        operation_id="createPayment",
        summary="Where to pay a purchase",
    )
    def webpay_create(
        self, exchange: ExchangeDep, identity: IdentityDep, data: JSONBody[PaymentCreateIn]
    ) -> PaymentOut:
        """Where to pay one of the caller's purchases that awaits payment."""
        start = exchange.payment_for(identity.user_id, data.request_id)
        return PaymentOut(start.url, start.token)

    @post(
        "/commit",
        status_code=200,
        sync_to_thread=True,
        security=BEARER,
        responses=problems(*AUTH_PROBLEMS, 404, 422, 502),
        operation_id="commitPayment",
        summary="Commit a Webpay payment",
    )
    def webpay_commit(
        self, exchange: ExchangeDep, identity: IdentityDep, data: JSONBody[PaymentCommitIn]
    ) -> CommitOut:
        """Settle a payment with what Webpay sent to the return URL; repeating answers the same."""
        # the original frontend sends {"token"}: the same Webpay token under its own name
        token_ws = data.token_ws or data.token
        back = payment_return(token_ws, data.TBK_TOKEN, data.TBK_ORDEN_COMPRA)
        view = exchange.commit_payment_view(identity.user_id, back)
        return CommitOut(payment_answer(view.purchase), purchase_out(view))

    @get(
        "/return",
        sync_to_thread=True,
        media_type=MediaType.HTML,
        responses=problems(404, 422, 502),
        operation_id="returnFromWebpay",
        summary="Webpay's return page",
    )
    def webpay_return(
        self,
        exchange: ExchangeDep,
        token_ws: FromQuery[str | None] = None,
        tbk_token: Annotated[str | None, QueryParameter(name="TBK_TOKEN")] = None,
        buy_order: Annotated[str | None, QueryParameter(name="TBK_ORDEN_COMPRA")] = None,
        session_id: Annotated[str | None, QueryParameter(name="TBK_ID_SESION")] = None,
    ) -> str:
        """Webpay's return URL when no frontend is configured: commits and shows the outcome."""
        # the browser brings no bearer token: the Webpay token (or buy order) is the capability
        purchase = exchange.commit_return(payment_return(token_ws, tbk_token, buy_order))
        return _RETURN_PAGE.format(
            status=html.escape(payment_answer(purchase)),
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
{buttons}
</body></html>
"""

_BUTTON = (
    '<form method="post" action="/webpay/sandbox/{token}/{decision}">'
    "<button>{label}</button></form>"
)


def _sandbox(system: SystemDep) -> SandboxPaymentGateway:
    if system.sandbox is None:  # pragma: no cover  # the controller is mounted only with one
        raise NotFound("the Webpay sandbox is not in use")
    return system.sandbox


class SandboxController(Controller):
    """The embedded sandbox's payment page, as Webpay's would be (not part of the API)."""

    path = "/webpay/sandbox"
    include_in_schema = False

    @get("/{token:str}", sync_to_thread=False, media_type=MediaType.HTML)
    def sandbox_page(self, system: SystemDep, token: FromPath[str]) -> str:
        """The payment page with its three buttons."""
        transaction = _sandbox(system).transaction(token)
        if transaction is None:
            raise NotFound(f"the sandbox knows no transaction {token}")
        buttons = "\n".join(
            _BUTTON.format(
                token=html.escape(token), decision=decision.value, label=decision.value.title()
            )
            for decision in SandboxDecision
        )
        return _SANDBOX_PAGE.format(
            buy_order=html.escape(transaction.buy_order),
            amount=transaction.amount,
            buttons=buttons,
        )

    @post("/{token:str}/{decision:str}", sync_to_thread=False)
    def sandbox_decide(
        self, system: SystemDep, token: FromPath[str], decision: FromPath[str]
    ) -> Redirect:
        """Record the button pressed and send the browser to the return URL as Webpay would."""
        try:
            target = _sandbox(system).decide(token, SandboxDecision(decision))
        except (ValueError, PaymentError) as error:  # an unknown button or transaction
            raise NotFound(str(error)) from None
        return Redirect(target, status_code=303)
