"""The Webpay sandbox's transactions in the database: ``webpay_sandbox``.

Any number of API processes serve one payment; purchases' ``location`` holds a JSON object.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webpay_sandbox",
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("buy_order", sa.String(26), nullable=False),
        sa.Column("session_id", sa.String(61), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("return_url", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(16)),
        sa.Column("committed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("refunded", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", INSTANT, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("token", name="pk_webpay_sandbox"),
    )
    # the column was the original's free text, never written by goat until now: its rows
    # are NULL, and from here on it holds {"ip", "city", "region", "country", "lat", "lon"}
    # as JSON text (goat_adapters.sql.purchases), each text cut to 40 characters


def downgrade() -> None:
    op.drop_table("webpay_sandbox")
