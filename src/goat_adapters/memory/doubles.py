"""In-memory stand-ins for the providers: payments, geolocation, broker, jobs, receipts,
time and ids."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from goat_core.errors import NotAllPublished, PaymentError, Unavailable
from goat_core.jobs import Job
from goat_core.model import Location, PaymentConfirmation, PaymentStart

__all__ = [
    "InMemoryBroker",
    "InMemoryGeolocator",
    "InMemoryJobQueue",
    "InMemoryPaymentGateway",
    "InMemoryReceiptStore",
    "ManualClock",
    "SequentialIds",
]


class InMemoryPaymentGateway:
    """A Webpay stand-in that behaves as Webpay (and the sandbox) does.

    A transaction commits once, and only after its payer paid (``pay(token)``) or was
    refused (``refuse(token)``); committing an undecided, unknown or committed token
    raises ``PaymentError``. With ``payer_pays=True`` every payer pays as soon as the
    transaction opens, for tests about what follows a payment. ``down = True`` makes
    every call raise ``Unavailable``; ``refunds_refused = True`` makes ``refund`` answer
    False. ``refunded`` records each refund given.
    """

    def __init__(
        self, base_url: str = "http://payments.invalid/pay", *, payer_pays: bool = False
    ) -> None:
        self.base_url = base_url
        self.payer_pays = payer_pays
        self.down = False
        self.refunds_refused = False
        self.started: dict[str, tuple[str, int]] = {}
        self.sessions: dict[str, str] = {}
        self.committed: list[str] = []
        self.refunded: list[tuple[str, int]] = []
        self._paid: dict[str, bool] = {}  # token -> whether the payer's bank authorized it
        self._tokens = itertools.count(1)

    def start(self, buy_order: str, session_id: str, amount: int, return_url: str) -> PaymentStart:
        self._reachable()
        token = f"tok{next(self._tokens):061d}"
        self.started[token] = (buy_order, amount)
        self.sessions[token] = session_id
        if self.payer_pays:
            self._paid[token] = True
        return PaymentStart(url=self.base_url, token=token)

    def commit(self, token: str) -> PaymentConfirmation:
        self._reachable()
        if token not in self.started or token in self.committed or token not in self._paid:
            raise PaymentError(f"transaction {token} cannot be committed")
        self.committed.append(token)
        return self._confirmation(token)

    def status(self, token: str) -> PaymentConfirmation | None:
        self._reachable()
        if token not in self.started:
            raise PaymentError(f"transaction {token} is unknown")
        return self._confirmation(token) if token in self._paid else None

    def refund(self, token: str, amount: int) -> bool:
        self._reachable()
        done = any(given == token for given, _ in self.refunded)
        if self.refunds_refused or done or token not in self.committed or not self._paid[token]:
            return False
        self.refunded.append((token, amount))
        return True

    def pay(self, token: str) -> None:
        """The payer paid: the next commit of ``token`` is authorized."""
        self._paid[token] = True

    def refuse(self, token: str) -> None:
        """The payer's bank refused: the next commit of ``token`` is not authorized."""
        self._paid[token] = False

    def _confirmation(self, token: str) -> PaymentConfirmation:
        buy_order, amount = self.started[token]
        reversed_ = any(given == token for given, _ in self.refunded)  # as Webpay's REVERSED
        return PaymentConfirmation(token, self._paid[token] and not reversed_, amount, buy_order)

    def _reachable(self) -> None:
        if self.down:
            raise Unavailable("the payment provider is down")


class InMemoryGeolocator:
    """A geolocation stand-in: ``places`` maps an IP to its location; others are unknown.

    ``asked`` records every address it was asked about.
    """

    def __init__(self, places: dict[str, Location] | None = None) -> None:
        self.places = dict(places or {})
        self.asked: list[str] = []

    def locate(self, ip: str) -> Location | None:
        self.asked.append(ip)
        return self.places.get(ip)


class InMemoryBroker:
    """A broker publisher that records what it sends; ``down = True`` makes it unreachable."""

    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []
        self.down = False

    def publish_many(self, messages: Sequence[tuple[str, str]]) -> None:
        if self.down:
            raise NotAllPublished(0, "broker is down")
        self.published.extend(messages)


class InMemoryJobQueue:
    """Records jobs in ``enqueued``; with ``run`` (say ``exchange.run_job``) it also runs
    each at once, inside ``enqueue``. ``down = True`` makes it unreachable."""

    def __init__(self, run: Callable[[Job], object] | None = None) -> None:
        self.enqueued: list[Job] = []
        self.run = run
        self.down = False

    def enqueue(self, job: Job) -> str:
        if self.down:
            raise Unavailable("the job queue is down")
        self.enqueued.append(job)
        if self.run is not None:
            self.run(job)
        return str(len(self.enqueued))

    def enqueue_many(self, jobs: Sequence[Job]) -> list[str]:
        return [self.enqueue(job) for job in jobs]


class InMemoryReceiptStore:
    def __init__(self, base_url: str = "memory://receipts/") -> None:
        self.documents: dict[str, bytes] = {}
        self.base_url = base_url

    def put(self, key: str, document: bytes) -> str:
        self.documents[key] = document
        return self.base_url + key

    def url(self, key: str) -> str | None:
        return self.base_url + key if key in self.documents else None


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2024, 10, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class SequentialIds:
    """Predictable UUIDs: 00000000-0000-4000-8000-000000000001, ...002, ..."""

    def __init__(self) -> None:
        self._next = itertools.count(1)

    def new_id(self) -> str:
        return str(uuid.UUID(int=(0x4000 << 64) | (0x8 << 60) | next(self._next)))
