"""Money owed back, claimed once: ``purchases.give_back``; a location of any length.

``give_back`` ("pending", then "done") and ``give_back_amount`` mark the money Webpay took
for a purchase that ended not accepted: one conditional ``UPDATE ... WHERE give_back IS
NULL`` decides which caller gives it back, and a give-back whose answer never came stays
"pending" for the relay to finish. ``location`` becomes ``TEXT``: an IPv6 address, long
place names and full-precision coordinates exceeded its 200 characters.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.add_column(sa.Column("give_back", sa.String(16)))
        batch.add_column(sa.Column("give_back_amount", sa.BigInteger()))
        batch.alter_column("location", type_=sa.Text(), existing_type=sa.String(200))
    op.create_index(
        "ix_purchases_give_back_pending",
        "purchases",
        ["updated_at"],
        postgresql_where=sa.text("give_back = 'pending'"),
        sqlite_where=sa.text("give_back = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_purchases_give_back_pending", table_name="purchases")
    with op.batch_alter_table("purchases") as batch:
        batch.alter_column("location", type_=sa.String(200), existing_type=sa.Text())
        batch.drop_column("give_back_amount")
        batch.drop_column("give_back")
