"""Each user's number of purchases, kept beside the wallet.

``GET /requests`` answers a page and the user's total: counting a user's 10,000
purchases read 10,000 index entries per page (1.07 ms of PostgreSQL's time). Now a
trigger keeps ``users.purchases`` as purchases are inserted (purchases are never
deleted), and an unfiltered page reads it; a page filtered by status still counts.
SQLite keeps counting.

The trigger runs once per statement over the rows it inserted. A lot of our users'
purchases inserts them one statement each in the lot's order, by user: their rows are
locked in the order the lot debits the wallets, before the fixtures. (A statement
inserting several users' purchases would lock their rows in the plan's order: only
other groups' purchases, which have no user, are inserted several at a time.) A user's row
starts from the purchases already stored for them (a second trigger, on a row's first
insert: once in a user's life), and the page of a user without a row counts.

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
            UPDATE users SET purchases = users.purchases + bought.n
            FROM (SELECT user_id, count(*) AS n FROM added WHERE user_id IS NOT NULL
                  GROUP BY user_id) AS bought
            WHERE users.id = bought.user_id;
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
        """
        CREATE FUNCTION goat_user_first_seen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE users SET purchases = (SELECT count(*) FROM purchases WHERE user_id = NEW.id)
            WHERE id = NEW.id;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER goat_user_first_seen AFTER INSERT ON users FOR EACH ROW"
        " EXECUTE FUNCTION goat_user_first_seen()"
    )
    op.execute(
        "UPDATE users SET purchases = bought.n"
        " FROM (SELECT user_id, count(*) AS n FROM purchases GROUP BY user_id) AS bought"
        " WHERE users.id = bought.user_id"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER goat_user_first_seen ON users")
        op.execute("DROP FUNCTION goat_user_first_seen()")
        op.execute("DROP TRIGGER goat_user_purchases ON purchases")
        op.execute("DROP FUNCTION goat_user_purchases()")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("purchases")
