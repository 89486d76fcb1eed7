"""The embedded Webpay Plus sandbox of ``goat serve``: a payment gateway and its page's model.

``SandboxPaymentGateway`` keeps its transactions in a ``SandboxStore``: in this process's
memory (``MemorySandboxStore``, for an app on memory adapters) or in the database
(``goat_adapters.webpay.sandbox_sql.SqlSandboxStore``), so that any number of API
processes serve one payment. Its payment page (served by the HTTP app) lets a person
approve, reject or cancel, and sends the browser back to the return URL with exactly the
parameters Webpay would send.
"""

from __future__ import annotations

import enum
import secrets
import threading
from typing import Protocol
from urllib.parse import urlencode

import attrs

from goat_core.errors import PaymentError
from goat_core.model import PaymentConfirmation, PaymentStart

__all__ = [
    "MemorySandboxStore",
    "SandboxDecision",
    "SandboxPaymentGateway",
    "SandboxStore",
    "SandboxTransaction",
]


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
    refunded: bool = False

    @property
    def paid(self) -> bool | None:
        """Whether the payer's "bank" authorized it; None before a decision or if cancelled."""
        if self.decision in (SandboxDecision.APPROVE, SandboxDecision.REJECT):
            return self.decision == SandboxDecision.APPROVE
        return None


class SandboxStore(Protocol):
    """Where the sandbox keeps its transactions; each change is atomic across processes."""

    def add(self, transaction: SandboxTransaction) -> None:
        """Keep a new transaction."""

    def get(self, token: str) -> SandboxTransaction | None:
        """The transaction behind ``token``, or None."""

    def decide(self, token: str, decision: SandboxDecision) -> SandboxTransaction | None:
        """Record ``decision`` unless one is recorded already; the transaction, or None."""

    def commit(self, token: str) -> bool:
        """Mark a decided (approved or rejected) transaction committed; False if it was
        already, or is not decided, or is unknown."""

    def refund(self, token: str) -> bool:
        """Mark a committed, approved transaction refunded; False if it cannot be."""


class MemorySandboxStore:
    """``SandboxStore`` in this process's memory (one process only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._transactions: dict[str, SandboxTransaction] = {}

    def add(self, transaction: SandboxTransaction) -> None:
        with self._lock:
            self._transactions[transaction.token] = attrs.evolve(transaction)

    def get(self, token: str) -> SandboxTransaction | None:
        with self._lock:
            found = self._transactions.get(token)
            return attrs.evolve(found) if found else None

    def decide(self, token: str, decision: SandboxDecision) -> SandboxTransaction | None:
        with self._lock:
            found = self._transactions.get(token)
            if found is None:
                return None
            if found.decision is None:
                found.decision = decision
            return attrs.evolve(found)

    def commit(self, token: str) -> bool:
        with self._lock:
            found = self._transactions.get(token)
            if found is None or found.committed or found.paid is None:
                return False
            found.committed = True
            return True

    def refund(self, token: str) -> bool:
        with self._lock:
            found = self._transactions.get(token)
            if found is None or not found.committed or not found.paid or found.refunded:
                return False
            found.refunded = True
            return True


class SandboxPaymentGateway:
    """A Webpay Plus stand-in (implements ``ports.PaymentGateway``).

    ``base_url`` is where goat serves the payment page (``{base_url}/webpay/sandbox/{token}``).
    Committing reports the payer's decision once; a second commit of the same token, or
    the commit of an unknown token or one nobody decided on, raises ``PaymentError`` as
    Webpay does. ``status`` reports the decision without committing.
    """

    def __init__(self, base_url: str, store: SandboxStore | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.store: SandboxStore = store if store is not None else MemorySandboxStore()

    def start(self, buy_order: str, session_id: str, amount: int, return_url: str) -> PaymentStart:
        """Open a transaction; the payer decides on the sandbox page at the returned URL."""
        token = secrets.token_hex(32)  # Webpay tokens are 64 characters
        self.store.add(SandboxTransaction(token, buy_order, session_id, amount, return_url))
        return PaymentStart(url=f"{self.base_url}/webpay/sandbox/{token}", token=token)

    def commit(self, token: str) -> PaymentConfirmation:
        """Confirm a transaction the payer approved or rejected on the sandbox page."""
        if not self.store.commit(token):
            if self.store.get(token) is None:
                raise PaymentError(f"the sandbox knows no transaction {token}")
            raise PaymentError(f"sandbox transaction {token} cannot be committed")
        confirmation = self._confirmation(token)
        assert confirmation is not None  # committed: decided
        return confirmation

    def status(self, token: str) -> PaymentConfirmation | None:
        """The payer's decision, committed or not; None before it or after a cancel."""
        return self._confirmation(token)

    def refund(self, token: str, amount: int) -> bool:
        """Reverse a committed, approved transaction (once)."""
        return self.store.refund(token)

    def transaction(self, token: str) -> SandboxTransaction | None:
        """The transaction behind ``token``, for the payment page."""
        return self.store.get(token)

    def decide(self, token: str, decision: SandboxDecision) -> str:
        """Record the payer's choice (the first one counts) and return where Webpay would
        send the browser.

        Approve and reject return ``token_ws``; cancel returns ``TBK_TOKEN``,
        ``TBK_ORDEN_COMPRA`` and ``TBK_ID_SESION``. An unknown token raises ``PaymentError``.
        """
        transaction = self.store.decide(token, SandboxDecision(decision))
        if transaction is None:
            raise PaymentError(f"the sandbox knows no transaction {token}")
        return return_target(transaction)

    def _confirmation(self, token: str) -> PaymentConfirmation | None:
        transaction = self.store.get(token)
        if transaction is None:
            raise PaymentError(f"the sandbox knows no transaction {token}")
        if transaction.paid is None:
            return None
        return PaymentConfirmation(
            token=token,
            authorized=transaction.paid and not transaction.refunded,  # Webpay's REVERSED
            amount=transaction.amount,
            buy_order=transaction.buy_order,
            details={"response_code": 0 if transaction.paid else -1},
        )


def return_target(transaction: SandboxTransaction) -> str:
    """Where Webpay sends the browser after the payer's decision on ``transaction``."""
    if transaction.decision == SandboxDecision.CANCEL:
        query = {
            "TBK_TOKEN": transaction.token,
            "TBK_ORDEN_COMPRA": transaction.buy_order,
            "TBK_ID_SESION": transaction.session_id,
        }
    else:
        query = {"token_ws": transaction.token}
    separator = "&" if "?" in transaction.return_url else "?"
    return f"{transaction.return_url}{separator}{urlencode(query)}"
