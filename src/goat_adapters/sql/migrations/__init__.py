"""Alembic migrations of the goat schema, shipped inside the package.

``upgrade(url)`` runs them without any alembic.ini: the script location is this
directory, and ``env.py`` takes the connection it is handed.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from goat_adapters.sql.engines import make_engine
from goat_adapters.sql.errors import translated

HERE = Path(__file__).resolve().parent

# any constant works; it only has to be the same for every process migrating at once
_ADVISORY_LOCK = 0x60A7


def config() -> Config:
    """An Alembic configuration pointing at these migrations."""
    alembic = Config()
    alembic.set_main_option("script_location", str(HERE))
    return alembic


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (the newest by default).

    Safe to run from several processes at once: on PostgreSQL they queue on an advisory
    lock, and the ones that come later find nothing left to do. Raises ``Unavailable``
    if the database cannot be reached.
    """
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with translated(), engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK})"))
            alembic = config()
            alembic.attributes["connection"] = connection
            command.upgrade(alembic, revision)
    finally:
        engine.dispose()


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at, or None before any migration."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with translated(), engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision shipped."""
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision
