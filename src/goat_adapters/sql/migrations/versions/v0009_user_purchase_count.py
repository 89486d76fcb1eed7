"""Each user's number of purchases, kept beside the wallet.

``GET /requests`` answers a page and the user's total: counting a user's 10,000
purchases read 10,000 index entries per page (1.07 ms of PostgreSQL's time). Now a
trigger keeps ``users.purchases`` as purchases are inserted (purchases are never
deleted), and an unfiltered page reads it; a page filtered by status still counts.
SQLite keeps counting.

The trigger runs once per statement over the rows it inserted, adding to each user's
count in the order of the user ids (a lot's purchases lock their buyers' rows in the
order the lot already debits their wallets: by user, before the fixtures). A purchase's
user is created if the row is missing, so the count is exact whoever inserted it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("purchases", sa.BigInteger(), nullable=False, server_default="0")
        )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION goat_user_purchases() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO users (id, wallet, purchases)
            SELECT user_id, 0, count(*) FROM added WHERE user_id IS NOT NULL
            GROUP BY user_id ORDER BY user_id
            ON CONFLICT (id) DO UPDATE SET purchases = users.purchases + EXCLUDED.purchases;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER goat_user_purchases AFTER INSERT ON purchases"
        " REFERENCING NEW TABLE AS added FOR EACH STATEMENT"
        " EXECUTE FUNCTION goat_user_purchases()"
    )
    op.execute(
        "INSERT INTO users (id, wallet, purchases)"
        " SELECT user_id, 0, count(*) FROM purchases WHERE user_id IS NOT NULL"
        " GROUP BY user_id ORDER BY user_id"
        " ON CONFLICT (id) DO UPDATE SET purchases = EXCLUDED.purchases"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER goat_user_purchases ON purchases")
        op.execute("DROP FUNCTION goat_user_purchases()")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("purchases")
