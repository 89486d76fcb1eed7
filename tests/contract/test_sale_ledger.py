"""The contract of the sale hot path, ``ports.SaleLedger.record`` (its docstring), and of
``ports.AsyncSaleLedger``, which records as it does from an event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import attrs
import pytest

from goat_core.errors import Conflict, NotEnoughBonds, NotEnoughMoney
from goat_core.jobs import Recommend
from goat_core.model import LedgerKind, PaymentStatus
from goat_core.ports import Sale
from goat_core.wire import TOPIC_REQUESTS
from tests.contract.builders import (
    NOW,
    add_fixtures,
    add_purchases,
    available,
    fixture,
    purchase,
)
from tests.contract.conftest import Backend


def sale(
    request_id: str,
    *,
    user_id: str = "alice",
    fixture_id: int = 1,
    quantity: int = 2,
    by_wallet: bool = True,
) -> Sale:
    """A sale of ``quantity`` bonds at 1,000 CLP each, by wallet or else through Webpay."""
    bought = purchase(
        request_id,
        user_id=user_id,
        fixture_id=fixture_id,
        quantity=quantity,
        deposit_token="" if by_wallet else f"tok-{request_id}",
    )
    return Sale(bought, 1000 * quantity if by_wallet else 0, f'{{"request_id": "{request_id}"}}')


def webpay(sale: Sale) -> Sale:
    """The sale with every Webpay field of its purchase set (each must be stored)."""
    paid = attrs.evolve(
        sale.purchase,
        buy_order=f"order-{sale.purchase.request_id}",
        payout=12_345,
        payment_status=PaymentStatus.ACCEPTED,
    )
    return attrs.evolve(sale, purchase=paid)


def record(backend: Backend, *sales: Sale) -> None:
    with backend.uow() as uow:
        uow.sales.record(sales, NOW)
        uow.commit()


Write = Callable[..., None]


@pytest.fixture(params=["unit of work", "event loop"])
def write(request: pytest.FixtureRequest, backend: Backend) -> Iterator[Write]:
    """``record`` through a unit of work's ``SaleLedger``, or through the backend's
    ``AsyncSaleLedger`` (none on SQLite), every write of a test on one event loop (one
    connection, whatever the lot before it did)."""
    if request.param == "unit of work":
        yield lambda *sales: record(backend, *sales)
        return
    ledger = backend.async_sales
    if ledger is None:
        pytest.skip(f"no AsyncSaleLedger on {backend.name}")
    with asyncio.Runner() as loop:
        yield lambda *sales: loop.run(ledger.record(sales, NOW))


def fund(backend: Backend, **balances: int) -> None:
    with backend.uow() as uow:
        for user_id, amount in balances.items():
            uow.wallets.credit(user_id, amount, LedgerKind.TOP_UP, None, NOW)
        uow.commit()


def assert_nothing_sold(backend: Backend, *request_ids: str, balances: dict[str, int]) -> None:
    """No purchase of ``request_ids``, no announcement, no debit and every bond still there."""
    with backend.uow() as uow:
        assert all(uow.purchases.get(rid) is None for rid in request_ids)
        assert uow.outbox.backlog() == 0
        assert uow.wallets.balances(balances) == balances
        assert all(len(uow.wallets.ledger(user)) == 1 for user in balances)  # the top-up
    assert available(backend) == 40


def test_record_writes_purchases_debits_announcements_and_reservations(
    backend: Backend, write: Write
) -> None:
    """record() stores every purchase, debits each payer with a ledger entry, queues each
    announcement on fixtures/requests, and reserves each fixture's total."""
    add_fixtures(backend, fixture(1), fixture(2), bonds=40)
    fund(backend, alice=5000, bob=3000)
    sales = [
        sale("r1", user_id="alice", fixture_id=1, quantity=2),
        sale("r2", user_id="bob", fixture_id=2, quantity=1),
        sale("r3", user_id="alice", fixture_id=1, quantity=1),
        webpay(sale("r4", user_id="carol", fixture_id=2, quantity=3, by_wallet=False)),
    ]
    write(*sales)
    with backend.uow() as uow:
        uow.sales.record([], NOW)  # an empty lot writes nothing
        assert [uow.purchases.get(s.purchase.request_id) for s in sales] == [
            s.purchase for s in sales
        ]
        assert uow.wallets.balances({"alice", "bob", "carol"}) == {"alice": 2000, "bob": 2000}
        alice = [(e.amount, e.kind, e.reference, e.at) for e in uow.wallets.ledger("alice")]
        assert uow.wallets.ledger("carol") == []
        pending = uow.outbox.pending(10)
    assert alice == [
        (5000, LedgerKind.TOP_UP, None, NOW),
        (-2000, LedgerKind.PURCHASE, "r1", NOW),
        (-1000, LedgerKind.PURCHASE, "r3", NOW),
    ]
    assert [(m.topic, m.payload) for m in pending] == [
        (TOPIC_REQUESTS, s.announcement) for s in sales
    ]
    assert (available(backend, 1), available(backend, 2)) == (37, 36)


def test_record_of_a_known_request_id_raises_conflict_and_keeps_nothing(
    backend: Backend, write: Write
) -> None:
    """record() with a request id already stored raises Conflict and writes no sale of the lot."""
    add_fixtures(backend, fixture(), bonds=40)
    add_purchases(backend, purchase("r1", user_id=None, group_id="6"))
    fund(backend, alice=5000)
    with pytest.raises(Conflict) as raised:
        write(sale("r2"), sale("r1"))
    assert type(raised.value) is Conflict
    assert_nothing_sold(backend, "r2", balances={"alice": 5000})
    with backend.uow() as uow:
        assert uow.purchases.get("r1") == purchase("r1", user_id=None, group_id="6")


def test_record_beyond_a_balance_raises_not_enough_money_and_keeps_nothing(
    backend: Backend, write: Write
) -> None:
    """record() whose debits of one wallet add up to more than its balance raises
    NotEnoughMoney and writes no sale of the lot; so does a payer never seen."""
    add_fixtures(backend, fixture(), bonds=40)
    fund(backend, alice=3000)
    with pytest.raises(NotEnoughMoney) as raised:
        write(sale("r1", quantity=2), sale("r2", quantity=2))
    assert raised.value.user_id == "alice"
    with pytest.raises(NotEnoughMoney) as raised:
        write(sale("r3", user_id="nobody", quantity=1))
    assert (raised.value.user_id, raised.value.wanted) == ("nobody", 1000)
    assert_nothing_sold(backend, "r1", "r2", "r3", balances={"alice": 3000})


def test_record_beyond_availability_raises_not_enough_bonds_and_keeps_nothing(
    backend: Backend, write: Write
) -> None:
    """record() whose lot wants more of a fixture than is left (each sale alone would fit)
    raises NotEnoughBonds for the lot's total and writes no sale; so does an unknown fixture,
    named even when another fixture of the lot comes first."""
    add_fixtures(backend, fixture(1), bonds=40)
    fund(backend, alice=50_000)
    with pytest.raises(NotEnoughBonds) as raised:
        write(sale("r1", quantity=30), sale("r2", quantity=11))
    assert (raised.value.fixture_id, raised.value.wanted) == (1, 41)
    with pytest.raises(NotEnoughBonds) as raised:
        write(sale("r3", fixture_id=404, quantity=1))
    assert raised.value.fixture_id == 404
    with pytest.raises(NotEnoughBonds) as raised:  # the first fixture fits, the second not
        write(sale("r4", fixture_id=1, quantity=1), sale("r5", fixture_id=404, quantity=1))
    assert raised.value.fixture_id == 404
    assert_nothing_sold(backend, "r1", "r2", "r3", "r4", "r5", balances={"alice": 50_000})


def test_record_of_one_request_id_twice_in_a_lot_raises_conflict(
    backend: Backend, write: Write
) -> None:
    """A lot that carries the same request id twice raises Conflict and writes nothing."""
    add_fixtures(backend, fixture(), bonds=40)
    fund(backend, alice=5000)
    with pytest.raises(Conflict):
        write(sale("r1"), sale("r1", quantity=1))
    assert_nothing_sold(backend, "r1", balances={"alice": 5000})


def test_record_adds_the_lots_jobs_and_a_failed_lot_keeps_none(backend: Backend) -> None:
    """The lot's jobs reach the job outbox with it; a lot that fails leaves no job behind."""
    add_fixtures(backend, fixture(1))
    fund(backend, alice=10_000, bob=10_000)
    with backend.uow() as uow:
        jobs = [Recommend("alice"), Recommend("bob")]
        uow.sales.record([sale("r1"), sale("r2", user_id="bob")], NOW, jobs)
        uow.commit()
    with backend.uow() as uow, pytest.raises(Conflict):
        uow.sales.record([sale("r1")], NOW, [Recommend("again")])
    with backend.uow() as uow:
        assert [entry.job for entry in uow.jobs.pending(10)] == jobs


def test_an_async_ledger_records_jobs_reads_fixtures_and_balances(backend: Backend) -> None:
    """``AsyncSaleLedger``: ``record`` adds the lot's jobs (none for a lot that fails);
    ``fixtures`` and ``balances`` read what is committed, as the unit of work's do."""
    ledger = backend.async_sales
    if ledger is None:
        pytest.skip(f"no AsyncSaleLedger on {backend.name}")
    add_fixtures(backend, fixture(1), fixture(2), bonds=40)
    fund(backend, alice=10_000, bob=10_000)
    jobs = [Recommend("alice"), Recommend("bob")]

    async def main() -> tuple[object, ...]:
        await ledger.record([sale("r1"), sale("r2", user_id="bob")], NOW, jobs)
        with pytest.raises(Conflict):
            await ledger.record([sale("r1")], NOW, [Recommend("again")])
        return (
            await ledger.fixtures({1, 2, 404}),
            await ledger.fixtures(set()),
            await ledger.balances({"alice", "bob", "nobody"}),
        )

    fixtures, none, balances = asyncio.run(main())
    with backend.uow() as uow:
        assert [entry.job for entry in uow.jobs.pending(10)] == jobs
        assert fixtures == uow.fixtures.get_many({1, 2})
    assert set(fixtures) == {1, 2}
    assert none == {}
    assert balances == {"alice": 8000, "bob": 8000}
