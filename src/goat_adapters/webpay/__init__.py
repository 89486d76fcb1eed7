"""Webpay adapters. For now only the in-process sandbox that ``goat serve`` embeds.

``SandboxPaymentGateway`` keeps its transactions in the memory of the process; its payment
page (served by the HTTP app) lets a person approve, reject or cancel, and sends the browser
back to the return URL with exactly the parameters Webpay would send. The real
transbank-sdk adapter comes later and implements the same port.
"""

from __future__ import annotations

import enum
import secrets
import threading
from urllib.parse import urlencode

import attrs

from goat_core.errors import PaymentError
from goat_core.model import PaymentConfirmation, PaymentStart

__all__ = ["SandboxDecision", "SandboxPaymentGateway", "SandboxTransaction"]


class SandboxDecision(enum.StrEnum):
    """The buttons of the sandbox's payment page: what the payer does."""

    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"


@attrs.define
class SandboxTransaction:
    """One transaction opened on the sandbox, and what the payer decided."""

    token: str
    buy_order: str
    session_id: str
    amount: int
    return_url: str
    decision: SandboxDecision | None = None
    committed: bool = False


class SandboxPaymentGateway:
    """An in-process Webpay Plus stand-in (implements ``ports.PaymentGateway``).

    ``base_url`` is where goat serves the payment page (``{base_url}/webpay/sandbox/{token}``).
    Committing reports the payer's decision once; a second commit of the same token, or
    the commit of an unknown token or one nobody decided on, raises ``PaymentError`` as
    Webpay does.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._lock = threading.Lock()
        self._transactions: dict[str, SandboxTransaction] = {}

    def start(self, buy_order: str, session_id: str, amount: int, return_url: str) -> PaymentStart:
        """Open a transaction; the payer decides on the sandbox page at the returned URL."""
        token = secrets.token_hex(32)  # Webpay tokens are 64 characters
        with self._lock:
            self._transactions[token] = SandboxTransaction(
                token, buy_order, session_id, amount, return_url
            )
        return PaymentStart(url=f"{self.base_url}/webpay/sandbox/{token}", token=token)

    def commit(self, token: str) -> PaymentConfirmation:
        """Confirm a transaction the payer approved or rejected on the sandbox page."""
        with self._lock:
            transaction = self._transactions.get(token)
            if transaction is None:
                raise PaymentError(f"the sandbox knows no transaction {token}")
            decided = transaction.decision
            if transaction.committed or decided not in (
                SandboxDecision.APPROVE,
                SandboxDecision.REJECT,
            ):
                raise PaymentError(f"sandbox transaction {token} cannot be committed")
            transaction.committed = True
            approved = decided == SandboxDecision.APPROVE
            return PaymentConfirmation(
                token=token,
                authorized=approved,
                amount=transaction.amount,
                buy_order=transaction.buy_order,
                details={"response_code": 0 if approved else -1},
            )

    def transaction(self, token: str) -> SandboxTransaction | None:
        """The transaction behind ``token``, for the payment page."""
        with self._lock:
            found = self._transactions.get(token)
            return attrs.evolve(found) if found else None

    def decide(self, token: str, decision: SandboxDecision) -> str:
        """Record the payer's choice (the first one counts) and return where Webpay would
        send the browser.

        Approve and reject return ``token_ws``; cancel returns ``TBK_TOKEN``,
        ``TBK_ORDEN_COMPRA`` and ``TBK_ID_SESION``. An unknown token raises ``PaymentError``.
        """
        with self._lock:
            transaction = self._transactions.get(token)
            if transaction is None:
                raise PaymentError(f"the sandbox knows no transaction {token}")
            if transaction.decision is None:
                transaction.decision = SandboxDecision(decision)
            if transaction.decision == SandboxDecision.CANCEL:
                query = {
                    "TBK_TOKEN": token,
                    "TBK_ORDEN_COMPRA": transaction.buy_order,
                    "TBK_ID_SESION": transaction.session_id,
                }
            else:
                query = {"token_ws": token}
            separator = "&" if "?" in transaction.return_url else "?"
            return f"{transaction.return_url}{separator}{urlencode(query)}"
