"""``ports.PaymentGateway``: the in-memory gateway and the Webpay sandbox behave as Webpay.

A transaction commits once, only after its payer paid (authorized) or was refused (not
authorized); an undecided, unknown or already committed token raises ``PaymentError``.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest

from goat_adapters.memory import InMemoryPaymentGateway
from goat_adapters.webpay import SandboxDecision, SandboxPaymentGateway
from goat_core.errors import PaymentError
from goat_core.ports import PaymentGateway


@attrs.define
class Gateway:
    """A gateway under test and the payer's two choices on its payment page."""

    gateway: PaymentGateway
    pay: Callable[[str], object]
    refuse: Callable[[str], object]


@pytest.fixture(params=["memory", "sandbox"])
def subject(request: pytest.FixtureRequest) -> Gateway:
    """Each gateway in turn, with no transaction open."""
    if request.param == "memory":
        memory = InMemoryPaymentGateway()
        return Gateway(memory, memory.pay, memory.refuse)
    sandbox = SandboxPaymentGateway("http://goat.test")
    return Gateway(
        sandbox,
        lambda token: sandbox.decide(token, SandboxDecision.APPROVE),
        lambda token: sandbox.decide(token, SandboxDecision.REJECT),
    )


def _open(subject: Gateway, amount: int = 2000) -> str:
    start = subject.gateway.start("order-1", "session-1", amount, "http://front.test/back")
    assert start.url
    assert start.token
    return start.token


def test_a_paid_transaction_commits_authorized_with_its_amount(subject: Gateway) -> None:
    """After the payer pays, commit says authorized, with the amount and buy order opened."""
    token = _open(subject)
    subject.pay(token)

    confirmation = subject.gateway.commit(token)

    assert (confirmation.token, confirmation.authorized) == (token, True)
    assert (confirmation.amount, confirmation.buy_order) == (2000, "order-1")


def test_a_refused_transaction_commits_not_authorized(subject: Gateway) -> None:
    """After the payer's bank refuses, commit says not authorized."""
    token = _open(subject)
    subject.refuse(token)

    assert subject.gateway.commit(token).authorized is False


def test_an_undecided_transaction_does_not_commit(subject: Gateway) -> None:
    """Nothing is granted before the payer acts: committing then raises PaymentError."""
    token = _open(subject)

    with pytest.raises(PaymentError):
        subject.gateway.commit(token)


def test_a_token_commits_once(subject: Gateway) -> None:
    """A second commit of the same token raises PaymentError, as Webpay's does."""
    token = _open(subject)
    subject.pay(token)
    subject.gateway.commit(token)

    with pytest.raises(PaymentError):
        subject.gateway.commit(token)


def test_an_unknown_token_does_not_commit(subject: Gateway) -> None:
    """A token the gateway never opened raises PaymentError."""
    with pytest.raises(PaymentError):
        subject.gateway.commit("0" * 64)


def test_each_transaction_gets_its_own_token(subject: Gateway) -> None:
    """Two transactions opened one after the other have different tokens."""
    assert _open(subject) != _open(subject)
