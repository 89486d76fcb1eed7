"""Email over SMTP against a real server (aiosmtpd started by each test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from goat_adapters.mail import SmtpMailer
from goat_adapters.memory import InMemoryReceiptRenderer
from goat_core.errors import Unavailable
from goat_core.jobs import SendEmail
from goat_core.model import Outcome
from goat_core.ports import Email
from goat_core.services import Exchange
from tests.servers.mqtt import free_port
from tests.servers.smtp import SmtpServer
from tests.unit.support import USER, World, make_fixture

pytestmark = pytest.mark.integration

EMAIL = Email("alice@example.com", "Purchase accepted: A vs B", "plain words\n", "<p>html</p>")
SENDER = "goat@example.com"


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    """A plain SMTP server (no TLS, no AUTH), as a local relay is."""
    server = SmtpServer(tmp_path)
    server.start()
    yield server
    server.stop()


def test_an_email_arrives_with_text_and_html(smtp: SmtpServer) -> None:
    """The recipient, sender, subject and both parts reach the server."""
    SmtpMailer.from_url(f"smtp://127.0.0.1:{smtp.port}", SENDER).send(EMAIL)

    [got] = smtp.received
    assert got.recipients == ("alice@example.com",)
    assert got.message["From"] == SENDER
    assert got.message["Subject"] == EMAIL.subject
    text = got.message.get_body(("plain",))
    html = got.message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().strip() == "plain words"
    assert html.get_content().strip() == "<p>html</p>"


def test_starttls_is_used_when_offered_and_the_login_follows(tmp_path: Path) -> None:
    """smtp:// upgrades to TLS when the server offers STARTTLS, then logs in from the URL."""
    server = SmtpServer(tmp_path, tls=True, credentials=("goat", "p@ss word"))
    server.start()
    try:
        mailer = SmtpMailer.from_url(f"smtp://goat:p%40ss%20word@127.0.0.1:{server.port}", SENDER)
        mailer._tls = server.client_context()  # trust the test's self-signed certificate
        mailer.send(EMAIL)
    finally:
        server.stop()

    [got] = server.received
    assert got.tls
    assert got.login == "goat"


def test_smtps_speaks_tls_from_the_first_byte(tmp_path: Path) -> None:
    """smtps:// connects with implicit TLS."""
    server = SmtpServer(tmp_path, implicit_tls=True)
    server.start()
    try:
        mailer = SmtpMailer.from_url(f"smtps://127.0.0.1:{server.port}", SENDER)
        mailer._tls = server.client_context()
        mailer.send(EMAIL)
    finally:
        server.stop()

    assert [r.tls for r in server.received] == [True]


def test_a_server_that_cannot_be_reached_is_unavailable() -> None:
    """Nothing listening: the mailer raises Unavailable, naming no password."""
    mailer = SmtpMailer.from_url(f"smtp://u:secret@127.0.0.1:{free_port()}", SENDER, timeout=2)

    with pytest.raises(Unavailable) as raised:
        mailer.send(EMAIL)
    assert "secret" not in str(raised.value)
    assert "secret" not in repr(mailer)


def _exchange(world: World, port: int) -> Exchange:
    """An exchange over ``world``'s state that mails through the SMTP server on ``port``."""
    return Exchange(
        uow=world.store.unit_of_work,
        payments=world.payments,
        jobs=world.jobs,
        clock=world.clock,
        ids=world.ids,
        receipts=world.receipts,
        renderer=InMemoryReceiptRenderer(),
        mailer=SmtpMailer.from_url(f"smtp://127.0.0.1:{port}", SENDER, timeout=2),
        group_name="Grupo 15",
    )


def _accepted_purchase(world: World) -> str:
    world.add_fixtures(make_fixture(1))
    world.exchange.register(USER, "alice@example.com", "Alice")
    world.fund(USER, 1000)
    request_id = world.buy(USER, 1, Outcome.HOME, 1).purchase.request_id
    world.validate(request_id, True)
    return request_id


def test_one_email_per_event_with_recipient_subject_and_link(smtp: SmtpServer) -> None:
    """Accepted then won: two emails to the buyer, each once, the first with the receipt link."""
    world = World()
    exchange = _exchange(world, smtp.port)
    request_id = _accepted_purchase(world)
    world.result(1, "FT", 2, 0)

    for job in world.relay_jobs() * 2:  # every job twice, as a retried queue may
        exchange.run_job(job)

    assert [(r.recipients, r.message["Subject"]) for r in smtp.received] == [
        (("alice@example.com",), "Purchase accepted: Arsenal vs Chelsea"),
        (("alice@example.com",), "You won: Arsenal vs Chelsea"),
    ]
    accepted = smtp.received[0].message.get_body(("plain",))
    assert accepted is not None
    assert f"memory://receipts/{request_id}" in accepted.get_content()


def test_smtp_down_then_up_delivers_the_email_once(tmp_path: Path) -> None:
    """The job fails while the server is down; after it is back, it delivers exactly once."""
    world = World()
    server = SmtpServer(tmp_path)
    exchange = _exchange(world, server.port)
    request_id = _accepted_purchase(world)
    job = SendEmail(request_id, "accepted")

    with pytest.raises(Unavailable):
        exchange.run_job(job)
    server.start()
    try:
        exchange.run_job(job)
        exchange.run_job(job)
    finally:
        server.stop()

    assert len(server.received) == 1
