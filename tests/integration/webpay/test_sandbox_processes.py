"""The database-backed sandbox across processes: each process has its own engine and
gateway over one database, as ``goat api --workers 2`` has, and the calls interleave in a
fixed order."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from goat_adapters.local import SystemClock
from goat_adapters.memory import InMemoryJobQueue, SequentialIds
from goat_adapters.sql import SqlDatabase, upgrade
from goat_adapters.webpay import SandboxDecision, SandboxPaymentGateway
from goat_adapters.webpay.sandbox_sql import SqlSandboxStore
from goat_core.errors import PaymentError
from goat_core.model import PaymentConfirmation, PaymentStart, PurchaseStatus
from goat_core.ports import PaymentGateway
from goat_core.services import BuyBonds, Exchange, PaymentReturn
from goat_core.wire import TOPIC_INFO, render_fixtures
from tests.integration.http.support import new_fixture

USER = "auth0|alice"


@attrs.define
class Process:
    """One API process: its own engine, sandbox gateway and exchange."""

    database: SqlDatabase
    sandbox: SandboxPaymentGateway
    exchange: Exchange


def _process(
    url: str, payments: Callable[[SandboxPaymentGateway], PaymentGateway] | None = None
) -> Process:
    database = SqlDatabase(url)
    sandbox = SandboxPaymentGateway("http://goat.test", SqlSandboxStore(database.engine))
    gateway: PaymentGateway = sandbox if payments is None else payments(sandbox)
    exchange = Exchange(
        uow=database.unit_of_work,
        payments=gateway,
        jobs=InMemoryJobQueue(),
        clock=SystemClock(),
        ids=SequentialIds(),
    )
    return Process(database, sandbox, exchange)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One migrated database for every process of the test."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("fresh_database_url"))
    url = f"sqlite:///{tmp_path / 'goat.db'}"
    upgrade(url)
    return url


@pytest.fixture
def processes(url: str) -> Iterator[list[Process]]:
    """Two processes on the database; fixture 1's successor on sale."""
    both = [_process(url), _process(url)]
    yield both
    for process in both:
        process.database.dispose()


def _buy(process: Process) -> tuple[str, str]:
    fixture = new_fixture()
    process.exchange.receive(TOPIC_INFO, render_fixtures([fixture]))
    bought = process.exchange.buy_bonds(
        BuyBonds(USER, fixture.id, "home", 2, False, "http://shop.invalid/back")
    )
    assert bought.payment is not None
    return bought.view.purchase.request_id, bought.payment.token


def test_a_token_commits_once_whichever_process_commits(processes: list[Process]) -> None:
    """A payment decided on one process commits once; the other process's commit is refused."""
    first, second = processes
    request_id, token = _buy(first)
    second.sandbox.decide(token, SandboxDecision.APPROVE)  # the page served by the other

    confirmation = first.sandbox.commit(token)
    with pytest.raises(PaymentError):
        second.sandbox.commit(token)
    accepted = second.exchange.commit_payment(USER, PaymentReturn(token=token))

    assert confirmation.authorized
    assert accepted.status is PurchaseStatus.ACCEPTED
    assert first.exchange.commit_payment(USER, PaymentReturn(token=token)) == accepted
    transaction = first.sandbox.transaction(token)
    assert transaction is not None
    assert transaction.committed
    assert not transaction.refunded
    assert first.exchange.queries.view(accepted).purchase.request_id == request_id


class _CancelledMeanwhile:
    """A process's sandbox, where the other process records the payer's cancel while this
    one's commit runs."""

    def __init__(self, sandbox: SandboxPaymentGateway) -> None:
        self.sandbox = sandbox
        self.meanwhile: Callable[[], object] | None = None

    def start(self, buy_order: str, session_id: str, amount: int, return_url: str) -> PaymentStart:
        return self.sandbox.start(buy_order, session_id, amount, return_url)

    def commit(self, token: str) -> PaymentConfirmation:
        confirmation = self.sandbox.commit(token)
        if self.meanwhile is not None:
            self.meanwhile()
        return confirmation

    def status(self, token: str) -> PaymentConfirmation | None:
        return self.sandbox.status(token)  # pragma: no cover

    def refund(self, token: str, amount: int) -> bool:
        return self.sandbox.refund(token, amount)


def test_money_taken_after_another_process_cancelled_is_refunded_once(url: str) -> None:
    """A commit racing another process's cancel gives the money back once, through the sandbox."""
    wrapped: list[_CancelledMeanwhile] = []

    def wrap(sandbox: SandboxPaymentGateway) -> _CancelledMeanwhile:
        wrapped.append(_CancelledMeanwhile(sandbox))
        return wrapped[-1]

    committing, cancelling = _process(url, wrap), _process(url)
    try:
        request_id, token = _buy(committing)
        committing.sandbox.decide(token, SandboxDecision.APPROVE)
        with cancelling.database.unit_of_work() as uow:
            found = uow.purchases.get(request_id)
        assert found is not None
        cancel = PaymentReturn(buy_order=found.buy_order, cancelled=True)
        wrapped[0].meanwhile = lambda: cancelling.exchange.commit_payment(USER, cancel)

        final = committing.exchange.commit_payment(USER, PaymentReturn(token=token))

        assert final.status is PurchaseStatus.REJECTED
        transaction = cancelling.sandbox.transaction(token)
        assert transaction is not None
        assert transaction.refunded
        assert committing.exchange.queries.balance(USER) == 0
    finally:
        committing.database.dispose()
        cancelling.database.dispose()
