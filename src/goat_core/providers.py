"""What the core needs from providers outside the database: payments, receipts, mail,
the broker, jobs, time and ids. Each method's docstring is its contract; ``goat_core.ports``
re-exports all of them beside the storage ports.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import attrs

from goat_core.jobs import Job
from goat_core.model import (
    Location,
    PaymentConfirmation,
    PaymentStart,
)

__all__ = [
    "BrokerPublisher",
    "Clock",
    "Email",
    "Geolocator",
    "IdGenerator",
    "JobQueue",
    "Mailer",
    "OutboxLease",
    "PaymentGateway",
    "Receipt",
    "ReceiptRenderer",
    "ReceiptStore",
]


class PaymentGateway(Protocol):
    """A payment provider (Webpay Plus): it opens, confirms, reports and reverses transactions.

    You may not move wallet money here, and nothing is granted until ``commit`` or
    ``status`` says authorized. Every call may be slow: the core calls it between
    transactions, never inside one.
    """

    def start(self, buy_order: str, session_id: str, amount: int, return_url: str) -> PaymentStart:
        """Open a transaction for ``amount`` CLP; the user pays at ``url`` with ``token``.

        Raises ``Unavailable`` when the provider cannot be reached or answers too late,
        and ``PaymentError`` when it refuses to open the transaction.
        """

    def commit(self, token: str) -> PaymentConfirmation:
        """Confirm the transaction after the user returns; say whether it was authorized.

        A token commits once. Raises ``PaymentError`` when the provider refuses to commit
        it (unknown, not paid for yet, abandoned, or committed already: then ``status``
        tells its first outcome), and ``Unavailable`` when the provider cannot be reached
        or answers too late: the outcome is unknown then and must not be guessed.
        """

    def status(self, token: str) -> PaymentConfirmation | None:
        """What the provider knows of the transaction now, without changing it.

        A confirmation once the payer's bank decided (authorized or refused), ``None``
        while the payer has not finished or after the payer gave up (never authorized).
        Raises ``PaymentError`` for a token the provider does not know (any more), and
        ``Unavailable`` as ``commit`` does.
        """

    def refund(self, token: str, amount: int) -> bool:
        """Give ``amount`` CLP of an authorized, committed transaction back to the payer.

        True once the provider reversed or nullified it; False when the provider refuses
        (the caller then gives the money back some other way). Raises ``Unavailable`` when
        the provider cannot be reached or answers too late: the refund may or may not have
        happened.
        """


class Geolocator(Protocol):
    """Where an IP address is (course E1, RF04: where a purchase was made from)."""

    def locate(self, ip: str) -> Location | None:
        """The location of the public address ``ip``, or None when it cannot be told.

        Never raises and never waits long: a slow, failing or absent service means an
        unknown location, and the purchase goes on without one.
        """


class ReceiptStore(Protocol):
    def put(self, key: str, document: bytes) -> str:
        """Store the document under ``key`` (overwriting); return a URL to fetch it."""

    def url(self, key: str) -> str | None:
        """A URL for the stored document, or None if nothing is stored under ``key``."""


@attrs.frozen
class Receipt:
    """What a purchase's receipt says (CONTRACT §5), built by the core, drawn by a renderer.

    Plain values only: a renderer escapes every text it is given (team names come from
    the broker and may hold anything).
    """

    group_name: str
    buyer_name: str
    buyer_email: str | None
    home: str
    away: str
    league: str
    round: str
    kickoff: datetime
    result_backed: str
    """The team backed, or "Draw"."""
    quantity: int
    unit_price: int
    amount_paid: int
    """CLP."""
    paid_with: str
    """"wallet" or "Webpay"."""
    purchase_id: str
    issued_at: datetime


class ReceiptRenderer(Protocol):
    def render(self, receipt: Receipt) -> bytes:
        """The receipt as a PDF document; never reaches the network while rendering."""


@attrs.frozen
class Email:
    """One message to one person, in plain text and HTML (the HTML already escaped)."""

    to: str
    subject: str
    text: str
    html: str


class Mailer(Protocol):
    def send(self, email: Email) -> None:
        """Hand the email to the mail system; return once it accepted it.

        Raises ``Unavailable`` when the mail system cannot be reached or refuses for now,
        so that the job is tried again later, and ``InvalidInput`` when it refuses this
        email for good (an unknown recipient).
        """


class BrokerPublisher(Protocol):
    def publish_many(self, messages: Sequence[tuple[str, str]]) -> None:
        """Send each ``(topic, payload)`` with QoS 1, in order, without waiting for one
        before sending the next; return once the broker acknowledged them all.

        Else raise ``NotAllPublished``, which says how many of the first it acknowledged
        (the rest may have arrived too: whoever sends them again sends them twice).
        """


class OutboxLease(Protocol):
    """Who may publish the outbox: one relay at a time among every process on a database."""

    def acquire(self) -> bool:
        """Try to become (or confirm that this holder still is) the one publisher; say which.

        Never waits for another holder. The lease ends with ``release()`` or when the
        holder dies (its connection goes), so that a standby takes over. Raises
        ``Unavailable`` when the database cannot be reached (the lease is lost then).
        """

    def release(self) -> None:
        """Stop being the publisher (idempotent)."""


class JobQueue(Protocol):
    def enqueue(self, job: Job) -> str:
        """Queue ``job`` to run after the caller's commit; return its id.

        Jobs are safe to run twice, so a queue may fold a job equal to one still waiting
        into it (and answer that one's id). Raises ``Unavailable`` if the queue cannot be
        reached.
        """

    def enqueue_many(self, jobs: Sequence[Job]) -> list[str]:
        """Queue several jobs at once (a relay's batch); return their ids in order.

        As ``enqueue`` for each, in as few round trips as the queue allows. Raises
        ``Unavailable`` if the queue cannot be reached: then some of the jobs may have
        been queued and others not, so the caller hands them all over again later
        (jobs are safe to run twice).
        """


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """A new unique id (a UUID string)."""
