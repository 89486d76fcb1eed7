"""Webpay Plus (REST) through transbank-sdk: ``TransbankPaymentGateway``.

Transbank's two environments: ``integration`` (its test servers; by default its public
test commerce code and API key) and ``production`` (the commerce's own code and key).
Every answer Transbank documents is translated into the core's terms, and no SDK or
``requests`` error leaves this module:

- a transport failure, a timeout, a 5xx, an answer that is not JSON, or any HTTP error
  but 422 (bad credentials after a key rotation: 401, 403; a wrong URL: 404; too many
  requests: 429) → ``Unavailable``: the outcome is unknown, the core leaves the purchase
  pending and asks again later, never taking it for a token Transbank does not know;
- 422 with ``error_message`` (an unknown token, a token committed already, a payer who
  has not finished, a refund refused) and the SDK's own checks of its arguments →
  ``PaymentError``;
- ``response_code`` 0 with status ``AUTHORIZED`` (or ``CAPTURED``) → authorized; any
  other finished status → refused; ``INITIALIZED`` → not decided yet (``status`` → None).
  An authorized answer without a whole ``amount`` is ``Unavailable``: it never reads as 0.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from transbank.common.integration_api_keys import IntegrationApiKeys
from transbank.common.integration_commerce_codes import IntegrationCommerceCodes
from transbank.common.integration_type import IntegrationType
from transbank.common.options import WebpayOptions
from transbank.error.transbank_error import TransbankError
from transbank.webpay.webpay_plus.transaction import Transaction

from goat_core.errors import PaymentError, Unavailable
from goat_core.model import PaymentConfirmation, PaymentStart

__all__ = ["TEST_API_KEY", "TEST_COMMERCE_CODE", "TransbankPaymentGateway"]

log = logging.getLogger("goat.webpay")

TEST_COMMERCE_CODE: str = IntegrationCommerceCodes.WEBPAY_PLUS
"""Transbank's public Webpay Plus test commerce (integration only)."""
TEST_API_KEY: str = IntegrationApiKeys.WEBPAY
"""Transbank's public test API key (integration only): not a secret."""
TIMEOUT_SECONDS = 10.0
"""How long one call to Transbank may take before its outcome counts as unknown."""

_AUTHORIZED = {"AUTHORIZED", "CAPTURED"}
_UNDECIDED = {"INITIALIZED"}
_REFUNDED = {"REVERSED", "NULLIFIED"}
_REFUSED = 422
"""Transbank's answer about the transaction itself (unknown, committed, not refundable)."""

T = TypeVar("T")


class TransbankPaymentGateway:
    """``ports.PaymentGateway`` on Transbank's Webpay Plus REST API, through transbank-sdk."""

    def __init__(
        self,
        commerce_code: str,
        api_key: str,
        *,
        production: bool,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        where = IntegrationType.LIVE if production else IntegrationType.TEST
        # the SDK passes its timeout to requests (connect and read)
        options = WebpayOptions(commerce_code, api_key, where, timeout=timeout)
        self._transaction = Transaction(options)
        self.environment = "production" if production else "integration"

    @classmethod
    def integration(
        cls,
        commerce_code: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = TIMEOUT_SECONDS,
    ) -> TransbankPaymentGateway:
        """Transbank's integration servers; without credentials, its public test commerce."""
        return cls(
            commerce_code or TEST_COMMERCE_CODE,
            api_key or TEST_API_KEY,
            production=False,
            timeout=timeout,
        )

    def start(self, buy_order: str, session_id: str, amount: int, return_url: str) -> PaymentStart:
        """Create the transaction; the payer pays at ``url`` (a form posting ``token_ws``)."""
        answer = self._call(
            "create", lambda: self._transaction.create(buy_order, session_id, amount, return_url)
        )
        token, url = answer.get("token"), answer.get("url")
        if not isinstance(token, str) or not isinstance(url, str):
            raise PaymentError("Transbank created a transaction without a token and URL")
        return PaymentStart(url=url, token=token)

    def commit(self, token: str) -> PaymentConfirmation:
        """Commit (PUT); a 422 (committed already, not paid yet) raises ``PaymentError``."""
        answer = self._call("commit", lambda: self._transaction.commit(token))
        confirmation = _confirmation(token, answer)
        if confirmation is None:  # pragma: no cover  # Transbank commits only decided ones
            raise PaymentError(f"Transbank committed {token} without a decision")
        return confirmation

    def status(self, token: str) -> PaymentConfirmation | None:
        """The transaction's status (GET); None while ``INITIALIZED``."""
        return _confirmation(token, self._call("status", lambda: self._transaction.status(token)))

    def refund(self, token: str, amount: int) -> bool:
        """Refund (POST .../refunds): True when reversed or nullified, False if refused."""
        try:
            answer = self._call("refund", lambda: self._transaction.refund(token, amount))
        except PaymentError as refused:
            log.warning("Transbank refused to refund %s: %s", token, refused)
            return False
        kind = str(answer.get("type", "")).upper()
        return kind in _REFUNDED and answer.get("response_code") in (None, 0)

    def _call(self, what: str, call: Callable[[], Any]) -> Mapping[str, Any]:
        """Run one SDK call, translating every way it fails into the core's errors."""
        try:
            answer = call()
        except requests.RequestException as error:  # unreachable, refused, timed out
            raise Unavailable(
                f"Transbank did not answer the {what}: {type(error).__name__}"
            ) from None
        except TransbankError as error:  # an HTTP error answer, or the SDK's own checks
            code = error.code if isinstance(error.code, int) else 0
            if code not in (0, _REFUSED):  # not an answer about this transaction
                raise Unavailable(f"Transbank failed the {what} ({code})") from None
            raise PaymentError(f"Transbank refused the {what}: {error.message}") from None
        except ValueError as error:  # not JSON (a proxy's error page)
            raise Unavailable(f"Transbank answered the {what} with no JSON: {error}") from None
        if not isinstance(answer, Mapping):  # an empty body: the SDK returns the status code
            raise Unavailable(f"Transbank answered the {what} with {answer!r}")
        return answer


def _confirmation(token: str, answer: Mapping[str, Any]) -> PaymentConfirmation | None:
    status = str(answer.get("status", "")).upper()
    code = answer.get("response_code")
    if status in _UNDECIDED or (not status and code is None):
        return None
    authorized = status in _AUTHORIZED and code == 0
    amount = _amount(answer.get("amount"))
    if amount is None and authorized:  # money was taken: how much must be known
        raise Unavailable(f"Transbank authorized {token} without a whole amount")
    details = {
        k: answer[k]
        for k in ("status", "response_code", "authorization_code", "vci")
        if k in answer
    }
    return PaymentConfirmation(
        token=token,
        authorized=authorized,
        amount=amount or 0,
        buy_order=str(answer.get("buy_order", "")),
        details=json.loads(json.dumps(details, default=str)),
    )


def _amount(raw: object) -> int | None:
    """A whole number of CLP, or None (missing, fractional, not a number)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw)
    return None
