"""Jobs decided in a transaction, handed to the job queue after commit: ``job_outbox``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

# a serial key: INTEGER PRIMARY KEY (the rowid) on SQLite, BIGSERIAL on PostgreSQL
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "job_outbox",
        sa.Column("id", SERIAL, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("created_at", INSTANT, server_default=sa.func.now(), nullable=False),
        sa.Column("sent_at", INSTANT),
        sa.PrimaryKeyConstraint("id", name="pk_job_outbox"),
    )
    op.create_index(
        "ix_job_outbox_unsent",
        "job_outbox",
        ["id"],
        postgresql_where=sa.text("sent_at IS NULL"),
        sqlite_where=sa.text("sent_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("job_outbox")
