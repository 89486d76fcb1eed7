"""The real HTTP API over the in-memory adapters, in one line, with no server at all.

``MemoryApp`` builds the system with the composition root (``goat_app.compose``), over a
``goat_adapters.memory.World`` (store, clock, ids, payments, jobs, receipts), and drives
it with Litestar's ``TestClient``. Tokens are development tokens signed with a secret of
its own (nothing is written to disk)::

    from goat_adapters.memory import make_fixture
    from goat_app.testing import MemoryApp

    with MemoryApp() as api:
        api.world.add_fixtures(make_fixture(1))
        alice = api.headers_for("alice@example.com")
        api.client.put("/users/wallet", json={"amount": 5000}, headers=alice)
        answer = api.client.post(
            "/requests",
            json={"fixture_id": 1, "result": "home", "quantity": 2, "wallet": True},
            headers=alice,
        )
        assert answer.status_code == 201
        assert api.world.balance(api.user_id("alice@example.com")) == 3000

Everything the world offers steers the app too: ``api.world.clock.advance(days=5)``,
``api.world.payments.refuse(token)``, ``api.world.receipts.put(request_id, pdf)``,
``api.world.store``. The world's Webpay stand-in pays at once; pass ``payments=`` (say
a ``goat_adapters.webpay.SandboxPaymentGateway``) for another gateway. Jobs run at once,
inside the request that queues them, unless ``run_jobs=False`` (then they are only
recorded in ``api.world.jobs.enqueued``).
"""

from __future__ import annotations

import secrets
from types import TracebackType
from typing import Self

import attrs
from litestar import Litestar
from litestar.testing import TestClient

from goat_adapters.memory import World
from goat_app.auth import DevelopmentTokenVerifier, development_subject
from goat_app.compose import Overrides, System, build_system
from goat_app.http import create_app
from goat_app.settings import Settings
from goat_core.ports import Geolocator, PaymentGateway

__all__ = ["BASE_URL", "MemoryApp"]

BASE_URL = "http://testserver.local"
"""Where the test client sends its requests (and so the app's public URL)."""


class MemoryApp:
    """The HTTP app over a ``World``, with a ``TestClient``; use it as a context manager.

    ``settings`` may set what the HTTP side reads (CORS origins, the return URL, the page
    cache, which is off by default so that reads see writes at once); the rules (group,
    price, bonds per fixture) are the world's. ``geolocator`` locates buyers (none by
    default, or the one ``settings`` ask for).
    """

    def __init__(
        self,
        world: World | None = None,
        *,
        payments: PaymentGateway | None = None,
        settings: Settings | None = None,
        run_jobs: bool = True,
        geolocator: Geolocator | None = None,
    ) -> None:
        self.world = world or World()
        rules = self.world.rules
        base = settings or Settings(fixtures_cache_ms=0)
        self.settings = attrs.evolve(
            base,
            group_id=rules.group_id,
            bond_price=rules.bond_price,
            bonds_per_fixture=rules.bonds_per_fixture,
            public_url=base.public_url or BASE_URL,
        )
        self.verifier = DevelopmentTokenVerifier(secret=secrets.token_bytes(32))
        self.system: System = build_system(
            self.settings,
            overrides=Overrides(
                uow=self.world.store.unit_of_work,
                payments=payments or self.world.payments,
                jobs=self.world.jobs,
                clock=self.world.clock,
                ids=self.world.ids,
                receipts=self.world.receipts,
                renderer=self.world.renderer,
                mailer=self.world.mailer,
                verifier=self.verifier,
                geolocator=geolocator,
            ),
        )
        # the job outbox is relayed inside the request that fills it, so that a test
        # sees its jobs as soon as the answer arrives
        self.system.exchange.on_jobs_queued(self.system.exchange.relay_jobs)
        if run_jobs:
            self.world.jobs.run = self.system.exchange.run_job
        self.app: Litestar = create_app(self.system)
        self.client: TestClient[Litestar] = TestClient(self.app, base_url=BASE_URL)

    def token_for(self, email: str, *, admin: bool = False) -> str:
        """A bearer token of the user ``email`` (an admin with ``admin=True``)."""
        return self.verifier.issue(email, admin=admin)

    def headers_for(self, email: str, *, admin: bool = False) -> dict[str, str]:
        """``Authorization`` headers carrying ``token_for(email, admin=admin)``."""
        return {"Authorization": f"Bearer {self.token_for(email, admin=admin)}"}

    @staticmethod
    def user_id(email: str) -> str:
        """The user id the app gives the holder of ``token_for(email)``."""
        return development_subject(email)

    def __enter__(self) -> Self:
        self.client.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.client.__exit__(exc_type, exc, tb)
        finally:
            self.system.close()
