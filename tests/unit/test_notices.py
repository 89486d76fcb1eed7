"""Receipts and emails for our buyers (CONTRACT §5): the MakeReceipt and SendEmail jobs."""

from __future__ import annotations

import logging

import pytest

from goat_core.errors import Unavailable
from goat_core.jobs import Job, MakeReceipt, SendEmail
from goat_core.model import Outcome
from tests.unit.support import USER, World, make_fixture


def _run(world: World) -> list[Job]:
    """Hand the job outbox over and run every job it held, as a worker would."""
    jobs = world.relay_jobs()
    for job in jobs:
        world.exchange.run_job(job)
    return jobs


def _bought(world: World, quantity: int = 2, *, email: str | None = "alice@example.com") -> str:
    world.exchange.register(USER, email, "Alice Fernández")
    world.fund(USER, quantity * 1000)
    request_id = world.buy(USER, 1, Outcome.HOME, quantity).purchase.request_id
    _run(world)  # the purchase's own follow-ups
    return request_id


def test_an_accepted_purchase_gets_one_receipt_with_what_the_contract_lists(world: World) -> None:
    """Accepting our purchase renders its receipt once, stored under the purchase id."""
    request_id = _bought(world)
    world.validate(request_id, True)

    jobs = _run(world)

    assert MakeReceipt(request_id) in jobs
    assert list(world.receipts.documents) == [request_id]
    [receipt] = world.renderer.rendered
    assert (receipt.home, receipt.away, receipt.result_backed) == ("Arsenal", "Chelsea", "Arsenal")
    assert (receipt.buyer_name, receipt.buyer_email) == ("Alice Fernández", "alice@example.com")
    assert (receipt.quantity, receipt.amount_paid, receipt.purchase_id) == (2, 2000, request_id)
    assert receipt.league == "Premier League"
    assert receipt.group_name == "goat"


def test_a_receipt_job_run_twice_renders_once(world: World) -> None:
    """A second MakeReceipt for a purchase that has its receipt renders nothing."""
    request_id = _bought(world)
    world.validate(request_id, True)
    _run(world)

    world.exchange.run_job(MakeReceipt(request_id))

    assert len(world.renderer.rendered) == 1


def test_no_receipt_for_a_pending_or_foreign_purchase(world: World) -> None:
    """A pending purchase of ours and another group's purchase get no receipt."""
    request_id = _bought(world)
    world.peer_request("peer-1")

    world.exchange.run_job(MakeReceipt(request_id))
    world.exchange.run_job(MakeReceipt("peer-1"))

    assert world.receipts.documents == {}


def test_acceptance_sends_one_email_with_the_receipt_link(world: World) -> None:
    """The buyer gets one email when accepted, linking the receipt, even if the job reruns."""
    request_id = _bought(world)
    world.validate(request_id, True)
    _run(world)

    world.exchange.run_job(SendEmail(request_id, "accepted"))

    [email] = world.mailer.sent
    assert email.to == "alice@example.com"
    assert email.subject == "Purchase accepted: Arsenal vs Chelsea"
    assert world.receipts.base_url + request_id in email.text
    assert request_id in email.html


def test_rejection_sends_one_email_and_no_receipt(world: World) -> None:
    """A rejected purchase of ours is told once by email; it has no receipt."""
    request_id = _bought(world)
    world.validate(request_id, False)

    assert _run(world) == [SendEmail(request_id, "rejected")]
    assert [e.subject for e in world.mailer.sent] == ["Purchase rejected: Arsenal vs Chelsea"]
    assert "returned to your wallet" in world.mailer.sent[0].text
    assert world.receipts.documents == {}


def test_settlement_sends_one_email_with_the_payout(world: World) -> None:
    """A won purchase is told once, with what was credited; the receipt is kept as it was."""
    request_id = _bought(world)
    world.validate(request_id, True)
    _run(world)

    world.result(1, "FT", 2, 1)
    _run(world)
    world.exchange.run_job(SendEmail(request_id, "settled"))

    assert [e.subject for e in world.mailer.sent] == [
        "Purchase accepted: Arsenal vs Chelsea",
        "You won: Arsenal vs Chelsea",
    ]
    assert "$3.700 CLP" in world.mailer.sent[1].text  # 2 × 1000 × 1.85
    assert len(world.renderer.rendered) == 1


def test_a_lost_purchase_is_told_it_did_not_win(world: World) -> None:
    """A lost purchase's email says so."""
    request_id = _bought(world)
    world.validate(request_id, True)
    world.result(1, "FT", 0, 1)
    _run(world)

    assert world.mailer.sent[-1].subject == "Settled: Arsenal vs Chelsea"


def test_another_groups_purchase_queues_no_email(world: World) -> None:
    """Validating another group's purchase sends nothing to anyone."""
    world.peer_request("peer-1")
    world.validate("peer-1", True)

    assert _run(world) == []
    assert world.mailer.sent == []


def test_a_mail_server_outage_delays_the_email_and_loses_none(world: World) -> None:
    """The job fails while mail is down; run again later it sends the email once."""
    request_id = _bought(world)
    world.validate(request_id, False)
    world.mailer.down = True

    with pytest.raises(Unavailable):
        _run(world)
    world.mailer.down = False
    world.exchange.run_job(SendEmail(request_id, "rejected"))
    world.exchange.run_job(SendEmail(request_id, "rejected"))

    assert len(world.mailer.sent) == 1


def test_a_buyer_without_email_gets_none_logged_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """No email on record: nothing is sent, and that is logged once however often it runs."""
    request_id = _bought(world, email=None)
    world.validate(request_id, False)

    with caplog.at_level(logging.WARNING, logger="goat.core"):
        _run(world)
        world.exchange.run_job(SendEmail(request_id, "rejected"))

    assert world.mailer.sent == []
    assert sum("no email on record" in r.getMessage() for r in caplog.records) == 1


def test_team_names_with_markup_are_escaped_in_the_email() -> None:
    """A team name holding HTML reaches the email's HTML escaped, never as markup."""
    world = World()
    world.add_fixtures(make_fixture(1, home="<script>alert(1)</script>", away="مانشستر"))
    request_id = _bought(world)
    world.validate(request_id, True)
    _run(world)

    [email] = world.mailer.sent
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert "مانشستر" in email.html


def test_the_email_job_crosses_redis_as_mail_with_string_fields() -> None:
    """SendEmail travels through rq as ``("mail", {request_id, event})`` and back unchanged."""
    from goat_adapters.rq.specs import job_from, spec_of

    job = SendEmail("r-1", "settled")

    assert spec_of(job) == ("mail", {"request_id": "r-1", "event": "settled"})
    assert job_from(*spec_of(job)) == job


def test_an_unknown_email_event_sends_nothing(world: World) -> None:
    """A SendEmail naming no known event (say, typed into the jobs service) is logged only."""
    request_id = _bought(world)

    assert world.exchange.send_email(SendEmail(request_id, "birthday")) is False
    assert world.mailer.sent == []
