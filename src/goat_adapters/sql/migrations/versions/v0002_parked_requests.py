"""Peers' purchases of fixtures not announced yet: ``parked_requests``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "parked_requests",
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("fixture_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("parked_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_parked_requests"),
    )
    op.create_index("ix_parked_requests_fixture_id", "parked_requests", ["fixture_id"])
    op.create_index("ix_parked_requests_parked_at", "parked_requests", ["parked_at"])


def downgrade() -> None:
    op.drop_table("parked_requests")
