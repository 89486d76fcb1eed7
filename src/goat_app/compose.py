"""The composition root: the only place where adapters are built, from ``Settings``.

Every process of goat starts here. ``build_system`` builds what the process runs (the
``Exchange`` over its ports, token verification, and, when asked, the broker side) and
returns a frozen ``System`` whose ``close()`` stops and releases all of it, newest first::

    system = build_system(settings, public_url=url, broker=BrokerOptions(embedded_port=1883))
    try:
        uvicorn.run(create_app(system))
    finally:
        system.close()

``Overrides`` swaps any port for one of your own, so that a test or a library user runs
the real HTTP app over the in-memory adapters (``goat_app.testing`` does exactly that).
Nothing is created at import time.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from goat_adapters.local import FileReceiptStore, InProcessJobQueue, SystemClock, UuidIds
from goat_adapters.memory import InMemoryJobQueue, InMemoryStore
from goat_adapters.sql import (
    JOB_LEASE_KEY,
    SqlAsyncSaleLedger,
    SqlDatabase,
    SqlOutboxLease,
    upgrade,
)
from goat_adapters.webpay import SandboxPaymentGateway
from goat_app.auth import TokenVerifier, VerifiedTokens
from goat_app.broker import BrokerSide, backlogs, report_backlogs
from goat_app.compose_broker import (
    EMBEDDED_PORT,
    BrokerOptions,
    broker_side,
    mqtt_identity,
    start_broker_side,
    start_simulator,
)
from goat_app.compose_providers import build_geolocator, build_payments, build_verifier
from goat_app.notify import build_mailer, build_receipt_store, build_renderer
from goat_app.relay import OutboxRelay, Periodic
from goat_app.settings import Settings, SettingsError
from goat_core.jobs import Job
from goat_core.ports import (
    Clock,
    Geolocator,
    IdGenerator,
    JobQueue,
    Mailer,
    OutboxLease,
    PaymentGateway,
    ReceiptRenderer,
    ReceiptStore,
    UnitOfWorkFactory,
)
from goat_core.services import Exchange

if TYPE_CHECKING:
    from goat_adapters.rq import RqJobQueue

__all__ = [
    "DEFAULT_PUBLIC_URL",
    "EMBEDDED_PORT",
    "JOB_FUNCTION",
    "BrokerOptions",
    "Overrides",
    "System",
    "build_rq_queue",
    "build_system",
    "build_verifier",
    "jobs_service_answers",
    "mqtt_identity",
    "start_broker_side",
    "start_simulator",
    "upgrade_database",
    "without_password",
]

log = logging.getLogger("goat.compose")

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
JOB_DELAY_SECONDS = 1.0
"""In-process jobs wait this long, so that a user's burst of purchases costs one recompute."""
JOB_FUNCTION = "goat_app.worker.run"
"""What every rq job calls in a ``goat worker`` process (``goat_app.worker.run``)."""
JOB_RELAY_INTERVAL_SECONDS = 0.5
"""How often the job relay looks at the job outbox when no commit woke it."""
JOB_RELAY_STEP_DOWN_AFTER = 3
"""Failed rounds in a row after which a job relay gives the job lease up: what fails may
be this process's own queue (its in-process worker, its Redis), not another's."""
JOBS_PROBE_SECONDS = 1.0
"""How long ``/workers/heartbeat`` waits for the jobs service (``GOAT_JOBS_URL``)."""


@attrs.frozen
class Overrides:
    """Ports to use instead of the ones the settings ask for; ``None`` keeps the setting's.

    A port given here belongs to the caller: the system does not start or close it.
    """

    uow: UnitOfWorkFactory | None = None
    payments: PaymentGateway | None = None
    jobs: JobQueue | None = None
    clock: Clock | None = None
    ids: IdGenerator | None = None
    receipts: ReceiptStore | None = None
    renderer: ReceiptRenderer | None = None
    mailer: Mailer | None = None
    verifier: TokenVerifier | None = None
    geolocator: Geolocator | None = None


@attrs.frozen
class System:
    """Everything one process of goat runs, built by ``build_system``; ``close()`` ends it."""

    settings: Settings
    exchange: Exchange
    verifier: TokenVerifier
    tokens: VerifiedTokens
    """Tokens verified lately, whose users are known to exist."""
    public_url: str
    """Where this process is reachable (sandbox page, return page, receipt links)."""
    database_kind: str
    jobs_available: Callable[[], bool]
    """Whether the job queue answers (``/workers/heartbeat``, ``/ready``)."""
    jobs_kind: str = "in-process"
    """What runs the jobs, for ``/ready``: in-process, or Redis and the jobs service."""
    sandbox: SandboxPaymentGateway | None = None
    """The embedded Webpay sandbox, when it is the payment gateway (its pages are served)."""
    receipt_files: FileReceiptStore | None = None
    """The receipt store, when it keeps files that goat serves itself."""
    broker: BrokerSide | None = None
    """The broker side, when this process runs it."""
    job_relay: OutboxRelay | None = None
    """The job relay, when this process runs one (it relays while it holds the job lease)."""
    sql: SqlDatabase | None = None
    """The database this process opened (its connection pool shows in ``/metrics``)."""
    resources: contextlib.ExitStack = attrs.field(factory=contextlib.ExitStack, repr=False)
    """What ``close()`` stops and releases, newest first."""

    @property
    def return_url(self) -> str:
        """Where Webpay sends the payer back: the frontend, or goat's own return page."""
        return self.settings.frontend_return_url or f"{self.public_url}/webpay/return"

    def broker_state(self) -> str:
        """The broker side's state for ``/ready``."""
        return self.broker.state() if self.broker else "not connected by this process"

    def close(self) -> None:
        """Stop the broker side and the workers, and release connections, newest first."""
        self.resources.close()


def build_system(
    settings: Settings,
    *,
    public_url: str | None = None,
    broker: BrokerOptions | None = None,
    overrides: Overrides | None = None,
    relay_jobs: bool = True,
) -> System:
    """Build every adapter the settings ask for (or ``overrides`` gives), and start them.

    With ``relay_jobs`` (and a queue it builds) a thread hands the job outbox to the job
    queue; ``goat worker`` says False: it runs jobs, the API and the listener relay them.

    ``public_url`` is where this process is reachable; ``GOAT_PUBLIC_URL`` wins over it.
    With ``broker``, the broker side runs in this process too. Raises ``Unavailable`` if an
    embedded broker's port is taken; then nothing is left running.
    """
    given = overrides or Overrides()
    base = (settings.public_url or public_url or DEFAULT_PUBLIC_URL).rstrip("/")
    resources = contextlib.ExitStack()
    try:
        uow, kind = given.uow, _kind_of(given.uow)
        # one relay of each outbox among the processes on the database
        lease: OutboxLease | None = None
        job_lease: OutboxLease | None = None
        sql: SqlDatabase | None = None
        async_sales: SqlAsyncSaleLedger | None = None
        if uow is None:
            if settings.database_url is None:
                settings.data_dir.mkdir(parents=True, exist_ok=True)  # the embedded SQLite file
            database = SqlDatabase(settings.database, lock_timeout_ms=settings.lock_timeout_ms)
            resources.callback(_logged(database.dispose))
            uow, kind, sql = database.unit_of_work, database.dialect, database
            if database.dialect == "postgresql":  # SQLite is one process: no lease needed
                lease = SqlOutboxLease(database.engine)
                job_lease = SqlOutboxLease(database.engine, key=JOB_LEASE_KEY)
                # POST /requests writes its lots from the event loop
                async_sales = SqlAsyncSaleLedger(database)
                resources.callback(_logged(async_sales.close))
        payments = given.payments or build_payments(settings, base, sql)
        receipts = given.receipts or build_receipt_store(settings, base)
        renderer = given.renderer or build_renderer()
        mailer = given.mailer or build_mailer(settings)

        def run(job: Job) -> None:  # the queue's worker runs jobs on the exchange built below
            exchange.run_job(job)

        jobs, jobs_available, jobs_kind = _jobs(settings, given.jobs, run, resources)
        exchange = Exchange(
            uow=uow,
            payments=payments,
            jobs=jobs,
            clock=given.clock or SystemClock(),
            ids=given.ids or UuidIds(),
            rules=settings.rules,
            receipts=receipts,
            renderer=renderer,
            mailer=mailer,
            group_name=settings.group_name,
            geolocator=given.geolocator or build_geolocator(settings),
            async_sales=async_sales,
        )
        if isinstance(jobs, InProcessJobQueue) and given.jobs is None:
            jobs.start()
            resources.callback(_logged(jobs.stop))
        job_relay = None
        if relay_jobs and given.jobs is None:  # a given queue's relaying is the caller's
            job_relay = _start_job_relay(
                exchange, resources, wake=not isinstance(jobs, InProcessJobQueue), lease=job_lease
            )
        side = None
        if broker is not None:
            side = broker_side(settings, exchange, broker, lease)
            resources.callback(_logged(side.stop))
            report = functools.partial(report_backlogs, functools.partial(backlogs, exchange, jobs))
            resources.callback(_logged(Periodic(report, every=60, name="backlogs").start().stop))
        return System(
            settings=settings,
            exchange=exchange,
            verifier=given.verifier or build_verifier(settings),
            tokens=VerifiedTokens(),
            public_url=base,
            database_kind=kind,
            jobs_available=jobs_available,
            jobs_kind=jobs_kind,
            sandbox=payments if isinstance(payments, SandboxPaymentGateway) else None,
            receipt_files=receipts if isinstance(receipts, FileReceiptStore) else None,
            broker=side,
            job_relay=job_relay,
            sql=sql,
            resources=resources,
        )
    except BaseException:
        resources.close()
        raise


def upgrade_database(settings: Settings) -> None:
    """Bring the configured database (or the embedded SQLite file) to the newest schema."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database)


def _jobs(
    settings: Settings,
    given: JobQueue | None,
    run: Callable[[Job], None],
    resources: contextlib.ExitStack,
) -> tuple[JobQueue, Callable[[], bool], str]:
    """The job queue, how to tell whether it answers, and what it is (for ``/ready``).

    Given: that one. ``GOAT_REDIS_URL``: rq on that Redis, run by ``goat worker``
    processes; then, with ``GOAT_JOBS_URL``, whether jobs answer is whether the jobs
    service answers its heartbeat, else whether Redis does. Neither: in this process.
    """
    if given is None and settings.redis_url is not None:
        rq_queue = build_rq_queue(settings)
        resources.callback(_logged(rq_queue.close))
        probe = rq_queue.available
        kind = f"rq on Redis {without_password(settings.redis_url)}"
        if settings.jobs_url is not None:
            probe = functools.partial(jobs_service_answers, settings.jobs_url)
            kind += f", jobs service {without_password(settings.jobs_url)}"
        return rq_queue, probe, kind
    if given is None:
        local = InProcessJobQueue(run=run, delay=JOB_DELAY_SECONDS)
        return local, lambda: local.available, "in-process"
    if isinstance(given, InProcessJobQueue):
        return given, lambda: given.available, "in-process"
    if isinstance(given, InMemoryJobQueue):
        return given, lambda: not given.down, "memory"
    return given, lambda: True, "supplied"


def _start_job_relay(
    exchange: Exchange,
    resources: contextlib.ExitStack,
    *,
    wake: bool,
    lease: OutboxLease | None,
) -> OutboxRelay:
    """Hand the job outbox to the job queue from a thread, every half second and, with
    ``wake``, at each commit that adds jobs (not for the in-process queue, which holds a job
    ``JOB_DELAY_SECONDS`` anyway); stopped with the system, before the queue. With a
    ``lease`` it relays only while it holds it: one job relay among the processes on the
    database, and gives it up after ``JOB_RELAY_STEP_DOWN_AFTER`` failed rounds in a row."""
    relay = OutboxRelay(
        exchange.relay_jobs,
        interval=JOB_RELAY_INTERVAL_SECONDS,
        name="jobs",
        lease=lease,
        step_down_after=JOB_RELAY_STEP_DOWN_AFTER,
    ).start()
    if wake:
        exchange.on_jobs_queued(relay.wake)
    resources.callback(_logged(relay.stop))
    return relay


def without_password(url: str) -> str:
    """``url`` with any password replaced by ``***`` (it is shown on ``/ready``)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def build_rq_queue(settings: Settings) -> RqJobQueue:
    """The rq queue on ``GOAT_REDIS_URL`` (the API's, the jobs service's); connects lazily."""
    from goat_adapters.rq import RqJobQueue  # only processes that use Redis need rq

    if settings.redis_url is None:
        raise SettingsError("GOAT_REDIS_URL is required: it is where jobs are queued")
    return RqJobQueue.from_url(settings.redis_url, function=JOB_FUNCTION)


def jobs_service_answers(url: str, timeout: float = JOBS_PROBE_SECONDS) -> bool:
    """Whether the jobs service at ``url`` answers ``GET /heartbeat`` with ``true`` in time."""
    try:
        with urllib.request.urlopen(  # noqa: S310  # the URL is GOAT_JOBS_URL, http(s) only
            f"{url.rstrip('/')}/heartbeat", timeout=timeout
        ) as answer:
            return answer.status == 200 and json.loads(answer.read()) is True
    except (OSError, ValueError):
        return False


def _kind_of(uow: UnitOfWorkFactory | None) -> str:
    """What /ready calls a database that was given rather than configured."""
    return "memory" if isinstance(getattr(uow, "__self__", None), InMemoryStore) else "supplied"


def _logged(close: Callable[[], object]) -> Callable[[], None]:
    """``close``, logging its failure instead of raising it: the others must close too."""

    def call() -> None:
        try:
            close()
        except Exception:
            log.exception("while closing")

    return call
