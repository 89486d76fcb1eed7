"""The composition root: the only place where adapters are built, from ``Settings``.

Nothing is created at import time: ``build_system`` makes a ``System`` on demand and
``System.close`` releases what it opened.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from goat_adapters.sql import SqlDatabase
from goat_adapters.webpay import SandboxPaymentGateway
from goat_app.auth import TokenVerifier, VerifiedTokens, verifier_for
from goat_app.jobs import InProcessJobQueue
from goat_app.receipts import FileReceiptStore
from goat_app.settings import Settings
from goat_core.ports import PaymentGateway, ReceiptStore, UnitOfWorkFactory
from goat_core.services import JOB_RECEIPT, JOB_RECOMMEND, Exchange

log = logging.getLogger("goat.compose")

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
JOB_DELAY_SECONDS = 1.0
"""In-process jobs wait this long, so that a user's burst of purchases costs one recompute."""


class SystemClock:
    """The real time, timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class UuidIds:
    """Random UUID4 strings."""

    def new_id(self) -> str:
        return str(uuid.uuid4())


class System:
    """Everything a process of goat runs on, built from the settings.

    A plain class on purpose: Litestar validates attrs-typed dependencies field by
    field, and a system is a bag of live objects, not data.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        exchange: Exchange,
        uow: UnitOfWorkFactory,
        verifier: TokenVerifier,
        payments: PaymentGateway,
        sandbox: SandboxPaymentGateway | None,
        jobs: InProcessJobQueue,
        receipts: ReceiptStore,
        public_url: str,
        database_kind: str,
    ) -> None:
        self.settings = settings
        self.exchange = exchange
        self.uow = uow
        self.verifier = verifier
        self.payments = payments
        self.sandbox = sandbox
        self.jobs = jobs
        self.receipts = receipts
        self.public_url = public_url
        self.database_kind = database_kind
        self.broker_state: Callable[[], str] = lambda: "not connected by this process"
        self.closers: list[Callable[[], None]] = []
        # tokens verified lately, whose users are known to exist
        self.tokens = VerifiedTokens()

    @property
    def return_url(self) -> str:
        """Where Webpay sends the payer back: the frontend, or goat's own return page."""
        return self.settings.frontend_return_url or f"{self.public_url}/webpay/return"

    def close(self) -> None:
        """Stop the workers and release connections, newest first."""
        while self.closers:
            closer = self.closers.pop()
            try:
                closer()
            except Exception:
                log.exception("while closing")


def _database(settings: Settings) -> tuple[UnitOfWorkFactory, str, Callable[[], None]]:
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)  # the embedded SQLite file
    database = SqlDatabase(settings.database, lock_timeout_ms=settings.lock_timeout_ms)
    return database.unit_of_work, database.dialect, database.dispose


def build_system(settings: Settings, public_url: str | None = None) -> System:
    """Build every adapter the settings ask for and the ``Exchange`` over them.

    ``public_url`` is where this process is reachable (for the Webpay sandbox page, the
    return page and receipt links); ``GOAT_PUBLIC_URL`` wins over it.
    """
    base = (settings.public_url or public_url or DEFAULT_PUBLIC_URL).rstrip("/")
    uow, kind, close_database = _database(settings)
    sandbox = SandboxPaymentGateway(base)
    jobs = InProcessJobQueue(delay=JOB_DELAY_SECONDS)
    exchange = Exchange(
        uow=uow,
        payments=sandbox,
        jobs=jobs,
        clock=SystemClock(),
        ids=UuidIds(),
        rules=settings.rules,
    )
    jobs.handlers[JOB_RECOMMEND] = exchange.recommend
    # receipts are rendered by a later issue; until then the job only says it ran
    jobs.handlers[JOB_RECEIPT] = lambda request_id: log.info(
        "receipt for %s: rendering is not implemented yet", request_id
    )
    system = System(
        settings=settings,
        exchange=exchange,
        uow=uow,
        verifier=verifier_for(settings),
        payments=sandbox,
        sandbox=sandbox,
        jobs=jobs,
        receipts=FileReceiptStore(settings.data_dir / "receipts", base),
        public_url=base,
        database_kind=kind,
    )
    system.closers.append(close_database)
    jobs.start()
    system.closers.append(jobs.stop)
    return system
