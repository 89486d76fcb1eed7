"""One live ``goat api`` for the HTTP tests, on PostgreSQL (SQLite where it is absent).

Production auth: RS256 tokens from a stand-in issuer whose JWKS is served on 127.0.0.1.
Tests stay independent by using unique users and fixtures; they seed fixtures by calling
the core over the same database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from goat_adapters.local import SystemClock
from goat_adapters.memory import InMemoryJobQueue, InMemoryPaymentGateway, SequentialIds
from goat_adapters.sql import SqlDatabase, upgrade
from goat_core.model import Fixture
from goat_core.services import Exchange
from goat_core.wire import TOPIC_INFO, render_fixtures
from tests.integration.http.support import AUDIENCE, Issuer, LiveApi, new_fixture, subject
from tests.servers.postgres import find_binaries

FRONTEND = "http://frontend.test"


@pytest.fixture(scope="session")
def issuer() -> Iterator[Issuer]:
    """The stand-in OIDC issuer of the session."""
    server = Issuer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def api_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    if find_binaries() is None:
        url = f"sqlite:///{tmp_path_factory.mktemp('http-db') / 'goat.db'}"
        upgrade(url)
        return url
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def api(
    issuer: Issuer, api_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApi]:
    """The live API process of the session."""
    server = LiveApi(
        {
            "GOAT_DATABASE_URL": api_database_url,
            "GOAT_AUTH_ISSUER": issuer.url,
            "GOAT_AUTH_AUDIENCE": AUDIENCE,
            "GOAT_CORS_ORIGINS": FRONTEND,
            "GOAT_FIXTURES_CACHE_MS": "0",  # tests read their writes at once
        },
        tmp_path_factory.mktemp("http-api") / "data",
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def core(api_database_url: str) -> Iterator[Exchange]:
    """The core over the API's database, to seed fixtures and broker messages."""
    database = SqlDatabase(api_database_url)
    yield Exchange(
        uow=database.unit_of_work,
        payments=InMemoryPaymentGateway(),
        jobs=InMemoryJobQueue(),
        clock=SystemClock(),
        ids=SequentialIds(),
    )
    database.dispose()


@pytest.fixture
def seed(core: Exchange) -> Callable[..., Fixture]:
    """Store a new fixture (unique id and teams) and return it."""

    def store(**kwargs: object) -> Fixture:
        fixture = new_fixture(**kwargs)  # type: ignore[arg-type]  # the keywords new_fixture takes
        core.receive(TOPIC_INFO, render_fixtures([fixture]))
        return fixture

    return store


class User:
    """A fresh user of the live API: its id, token, and a client that sends the token."""

    def __init__(self, api: LiveApi, issuer: Issuer, *, admin: bool = False) -> None:
        self.id = subject()
        self.token = issuer.token(self.id, admin=admin)
        self.http = httpx.Client(
            base_url=api.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )

    def buy(
        self, fixture: Fixture, quantity: int = 1, wallet: bool = True, **extra: object
    ) -> httpx.Response:
        body = {"fixture_id": fixture.id, "result": "home", "quantity": quantity, "wallet": wallet}
        return self.http.post("/requests", json={**body, **extra})

    def top_up(self, amount: int) -> None:
        assert self.http.put("/users/wallet", json={"amount": amount}).status_code == 200


@pytest.fixture
def user(api: LiveApi, issuer: Issuer) -> Iterator[User]:
    """A new user nobody else in the session uses."""
    fresh = User(api, issuer)
    yield fresh
    fresh.http.close()


@pytest.fixture
def new_user(api: LiveApi, issuer: Issuer) -> Iterator[Callable[..., User]]:
    """Make more users (``admin=True`` for an admin)."""
    made: list[User] = []

    def make(admin: bool = False) -> User:
        made.append(User(api, issuer, admin=admin))
        return made[-1]

    yield make
    for one in made:
        one.http.close()


@pytest.fixture
def anonymous(api: LiveApi) -> Iterator[httpx.Client]:
    """A client without a token."""
    with httpx.Client(base_url=api.url, timeout=10) as client:
        yield client
