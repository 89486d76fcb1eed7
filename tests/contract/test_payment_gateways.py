"""``ports.PaymentGateway``: the in-memory gateway, the Webpay sandbox (in memory and in
the database) and transbank-sdk against a local Transbank behave as Webpay.

A transaction commits once, only after its payer paid (authorized) or was refused (not
authorized); an undecided, unknown or already committed token raises ``PaymentError``;
the status tells the decision without committing; an authorized, committed payment is
refunded once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from goat_adapters.memory import InMemoryPaymentGateway
from goat_adapters.sql import SqlDatabase, upgrade
from goat_adapters.webpay import SandboxDecision, SandboxPaymentGateway
from goat_adapters.webpay.sandbox_sql import SqlSandboxStore
from goat_adapters.webpay.transbank import (
    TEST_API_KEY,
    TEST_COMMERCE_CODE,
    TransbankPaymentGateway,
)
from goat_core.errors import PaymentError
from goat_core.ports import PaymentGateway
from tests.servers.transbank import running_transbank


@attrs.define
class Gateway:
    """A gateway under test and the payer's two choices on its payment page."""

    gateway: PaymentGateway
    pay: Callable[[str], object]
    refuse: Callable[[str], object]


@pytest.fixture(params=["memory", "sandbox", "sandbox-sql", "transbank"])
def subject(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Gateway]:
    """Each gateway in turn, with no transaction open."""
    if request.param == "memory":
        memory = InMemoryPaymentGateway()
        yield Gateway(memory, memory.pay, memory.refuse)
        return
    if request.param == "transbank":
        with running_transbank(tmp_path, TEST_COMMERCE_CODE, TEST_API_KEY) as bank:
            for name, value in bank.environment().items():
                monkeypatch.setenv(name, value)
            yield Gateway(TransbankPaymentGateway.integration(timeout=2.0), bank.pay, bank.refuse)
        return
    database = None
    store = None
    if request.param == "sandbox-sql":
        url = f"sqlite:///{tmp_path / 'sandbox.db'}"
        upgrade(url)
        database = SqlDatabase(url)
        store = SqlSandboxStore(database.engine)
    sandbox = SandboxPaymentGateway("http://goat.test", store)
    yield Gateway(
        sandbox,
        lambda token: sandbox.decide(token, SandboxDecision.APPROVE),
        lambda token: sandbox.decide(token, SandboxDecision.REJECT),
    )
    if database is not None:
        database.dispose()


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


def test_the_status_tells_the_first_outcome(subject: Gateway) -> None:
    """None before the payer acts; after the commit, the committed outcome, as often as asked."""
    paid, refused = _open(subject), _open(subject)
    assert subject.gateway.status(paid) is None
    subject.pay(paid)
    subject.refuse(refused)
    subject.gateway.commit(paid)
    subject.gateway.commit(refused)

    told, again, no = (
        subject.gateway.status(paid),
        subject.gateway.status(paid),
        subject.gateway.status(refused),
    )
    assert told is not None
    assert no is not None
    assert (told.authorized, told.amount, told.buy_order) == (True, 2000, "order-1")
    assert again == told
    assert no.authorized is False


def test_an_authorized_payment_is_refunded_once(subject: Gateway) -> None:
    """A refund of a committed, authorized payment succeeds once; a refused one never."""
    paid, refused = _open(subject), _open(subject)
    subject.pay(paid)
    subject.refuse(refused)
    subject.gateway.commit(paid)
    subject.gateway.commit(refused)

    assert subject.gateway.refund(paid, 2000) is True
    assert subject.gateway.refund(paid, 2000) is False
    assert subject.gateway.refund(refused, 2000) is False
