"""Alembic's entry point: run the migrations on the connection ``upgrade()`` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from goat_adapters.sql.tables import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run the migrations through goat_adapters.sql.upgrade(url)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters tables by copying them; Alembic's batch mode does that for us
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
