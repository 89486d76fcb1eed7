"""``/webpay``: paying a purchase, the payer's way back, and the embedded sandbox's pages.

``SandboxController`` is mounted only when the embedded sandbox is the payment gateway.
"""

from __future__ import annotations

import html
from typing import Annotated

from litestar import Controller, MediaType, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Redirect

from goat_adapters.webpay import SandboxDecision, SandboxPaymentGateway
from goat_adapters.webpay.sandbox import return_target
from goat_app.http.common import (
    AUTH_PROBLEMS,
    BEARER,
    ExchangeDep,
    IdentityDep,
    SystemDep,
    problems,
)
from goat_app.http.pages import back_link, page, purchase_lines
from goat_app.http.schemas import (
    CommitOut,
    PaymentCommitIn,
    PaymentCreateIn,
    PaymentOut,
    purchase_out,
)
from goat_core.errors import (
    GoatError,
    InvalidInput,
    NotFound,
    PaymentError,
    PaymentNotFinished,
    Unavailable,
)
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


_OUTCOMES = {
    "accepted": "Your payment was accepted: the bonds are yours once the course validates.",
    "rejected": "Your payment was refused: no money was taken for it and the bonds went back.",
    "cancelled": "The payment was cancelled: no money was taken and the bonds went back.",
}

_RETURN_ERRORS: tuple[tuple[type[GoatError], int, str, str], ...] = (
    (NotFound, 404, "Payment not found", "goat knows no payment for this link."),
    (
        PaymentNotFinished,
        409,
        "Payment not finished",
        "Webpay has no decision for this payment yet: finish it on the payment page, "
        "then come back here.",
    ),
    (
        InvalidInput,
        422,
        "Nothing to confirm",
        "This address lacks what Webpay sends back (token_ws, or TBK_TOKEN and TBK_ORDEN_COMPRA).",
    ),
    (
        Unavailable,
        503,
        "Payment not confirmed yet",
        "The payment provider could not be reached to confirm your payment. Your purchase "
        "waits: reload this page in a moment, or it will be checked with Webpay within 15 "
        "minutes. You are never charged for a purchase that is not accepted.",
    ),
    (
        PaymentError,
        502,
        "Payment not confirmed",
        "The payment provider did not answer as expected. Your purchase waits for payment; "
        "reload this page to try again.",
    ),
    (  # anything else (busy, say): a browser still gets a page, never problem JSON
        GoatError,
        503,
        "Try again in a moment",
        "goat could not show this payment just now. Your purchase is safe: reload this page "
        "in a moment.",
    ),
)


def _error_page(error: GoatError, back: str) -> Response[str]:
    # the last row (GoatError) matches every error
    status, title, text = next(
        (status, title, text)
        for kind, status, title, text in _RETURN_ERRORS
        if isinstance(error, kind)
    )
    body = f"<p>{html.escape(text)}</p>"
    return Response(page(title, body, back), status_code=status, media_type=MediaType.HTML)


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
        responses=problems(*AUTH_PROBLEMS, 404, 409, 422, 502, 503),
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
        responses={
            status: ResponseSpec(
                data_container=str,
                media_type=MediaType.HTML,
                description=title,
                generate_examples=False,
            )
            for _, status, title, _ in reversed(_RETURN_ERRORS)  # the first row of a status
        },
        operation_id="returnFromWebpay",
        summary="Webpay's return page",
    )
    def webpay_return(
        self,
        exchange: ExchangeDep,
        system: SystemDep,
        token_ws: FromQuery[str | None] = None,
        tbk_token: Annotated[str | None, QueryParameter(name="TBK_TOKEN")] = None,
        buy_order: Annotated[str | None, QueryParameter(name="TBK_ORDEN_COMPRA")] = None,
        session_id: Annotated[str | None, QueryParameter(name="TBK_ID_SESION")] = None,
    ) -> Response[str]:
        """Webpay's return URL when no frontend is configured: commits and shows the outcome.

        Answers an HTML page for a person, errors included (a payment not finished, the
        provider unreachable: the purchase then waits and is resolved later).
        """
        # the browser brings no bearer token: the Webpay token (or buy order) is the capability
        back = back_link(system.settings.frontend_return_url)
        try:
            purchase = exchange.commit_return(payment_return(token_ws, tbk_token, buy_order))
            view = exchange.queries.view(purchase)
        except GoatError as error:
            return _error_page(error, back)
        answer = payment_answer(purchase)
        body = "\n".join(
            (
                purchase_lines(view),
                f"<p>{html.escape(_OUTCOMES.get(answer, ''))}</p>",
                f"<p>Purchase status: <strong>{html.escape(purchase.status.value)}</strong>.</p>",
            )
        )
        return Response(page(f"Payment {answer}", body, back), media_type=MediaType.HTML)


_BUTTON = (
    '<form method="post" action="/webpay/sandbox/{token}/{decision}" style="display: inline">'
    "<button>{label}</button></form>"
)

_DECIDED = {
    SandboxDecision.APPROVE: "You approved this payment.",
    SandboxDecision.REJECT: "You rejected this payment (as a bank refusing the card).",
    SandboxDecision.CANCEL: "You cancelled this payment.",
}


def _sandbox(system: SystemDep) -> SandboxPaymentGateway:
    if system.sandbox is None:  # pragma: no cover  # the controller is mounted only with one
        raise NotFound("the Webpay sandbox is not in use")
    return system.sandbox


def _not_found(back: str) -> Response[str]:
    body = "<p>The Webpay sandbox knows no such payment.</p>"
    return Response(
        page("Payment not found", body, back), status_code=404, media_type=MediaType.HTML
    )


class SandboxController(Controller):
    """The embedded sandbox's payment page, as Webpay's would be (not part of the API)."""

    path = "/webpay/sandbox"
    include_in_schema = False

    @get("/{token:str}", sync_to_thread=True, media_type=MediaType.HTML)
    def sandbox_page(
        self, system: SystemDep, exchange: ExchangeDep, token: FromPath[str]
    ) -> Response[str]:
        """The payment page: what is paid, and three buttons until the payer decided."""
        back = back_link(system.settings.frontend_return_url)
        try:
            transaction = _sandbox(system).transaction(token)
            if transaction is None:
                return _not_found(back)
            paid_with = exchange.paid_with(token)
        except GoatError as error:
            return _error_page(error, back)
        lines = [
            purchase_lines(paid_with, transaction.amount),
            f"<p>Buy order <code>{html.escape(transaction.buy_order)}</code>.</p>",
        ]
        if transaction.decision is None:
            lines.append("<p>No money moves here: choose what the payer does.</p>")
            lines.append(
                "\n".join(
                    _BUTTON.format(
                        token=html.escape(token),
                        decision=decision.value,
                        label=decision.value.title(),
                    )
                    for decision in SandboxDecision
                )
            )
        else:
            target = html.escape(return_target(transaction), quote=True)
            lines.append(f"<p><strong>{_DECIDED[transaction.decision]}</strong></p>")
            lines.append(f'<p><a href="{target}">Continue to the shop\'s return page</a></p>')
        return Response(page("Webpay sandbox", "\n".join(lines), back), media_type=MediaType.HTML)

    @post("/{token:str}/{decision:str}", sync_to_thread=True)
    def sandbox_decide(
        self, system: SystemDep, token: FromPath[str], decision: FromPath[str]
    ) -> Redirect | Response[str]:
        """Record the button pressed and send the browser to the return URL as Webpay would."""
        try:
            target = _sandbox(system).decide(token, SandboxDecision(decision))
        except (ValueError, PaymentError):  # an unknown button or transaction
            return _not_found(back_link(system.settings.frontend_return_url))
        return Redirect(target, status_code=303)
